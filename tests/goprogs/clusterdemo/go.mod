module clusterdemo

go 1.27
