package app

import "context"

// mountConsole serves the clinic web console on the API's mux. (Filled in
// by the web console work, issue 6.)
func (a *App) mountConsole(ctx context.Context) error { return nil }
