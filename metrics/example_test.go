package metrics_test

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// An agent registers its executor's collector and serves /metrics.
func Example() {
	var p afterhours.Profile
	if err := json.Unmarshal([]byte(`{"client": "shop-0042", "site": {"timezone": "Europe/London"},
	  "housekeeping": [{"name": "rotate-logs", "run": ["/usr/sbin/logrotate", "/etc/logrotate.conf"]}]}`), &p); err != nil {
		fmt.Println(err)
		return
	}
	if err := p.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	e, err := afterhours.NewExecutor(&p)
	if err != nil {
		fmt.Println(err)
		return
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewExecutor(e, prometheus.Labels{"client": p.Client}))
	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	families, err := reg.Gather()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range families {
		fmt.Println(f.GetName(), f.GetType())
	}
	// Output:
	// afterhours_executor_active_runs GAUGE
	// afterhours_executor_cycle_progress GAUGE
	// afterhours_executor_killed GAUGE
	// afterhours_executor_queue_length GAUGE
	// afterhours_executor_running GAUGE
}
