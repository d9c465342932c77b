module example.com/indexer

go 1.27

require example.com/scenariokit v0.0.0

replace example.com/scenariokit => ../scenariokit
