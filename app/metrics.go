package app

// mountMetrics registers the Prometheus metrics, GET /metrics and the
// dispatcher's observer. (Filled in by the monitoring work, issue 6.)
func (a *App) mountMetrics() error { return nil }

// webhookRejected counts a refused webhook.
func (a *App) webhookRejected(endpoint, reason string) {}
