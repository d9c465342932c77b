module goforensics.test/checkhang

go 1.25
