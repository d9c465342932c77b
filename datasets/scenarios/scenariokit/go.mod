module example.com/scenariokit

go 1.27
