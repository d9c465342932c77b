module goforensics.test/checkhealthy

go 1.25
