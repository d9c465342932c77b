module waitstates

go 1.27
