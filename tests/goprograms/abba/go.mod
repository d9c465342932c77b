module goforensics.test/abba

go 1.21
