module goforensics.test/leakseries

go 1.21
