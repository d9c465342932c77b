module example.com/leakwatch

go 1.24
