module goforensics.test/checkbaseline

go 1.25
