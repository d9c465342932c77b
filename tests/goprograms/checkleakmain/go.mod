module goforensics.test/checkleakmain

go 1.25
