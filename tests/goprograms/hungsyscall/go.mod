module example.com/hungsyscall

go 1.22
