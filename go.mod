module github.com/afterhours-go/afterhours

go 1.25

require (
	github.com/benbjohnson/clock v1.3.5
	github.com/robfig/cron/v3 v3.0.1
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/shirou/gopsutil/v3 v3.24.5 // indirect
	go.uber.org/goleak v1.3.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
