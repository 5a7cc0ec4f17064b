package config_test

import (
	"errors"
	"fmt"

	"github.com/spid-idp/spid-idp/config"
)

// A `config validate` command prints every problem and exits with status 2
// when the configuration itself is wrong (1 when the file cannot be read).
func ExampleLoad() {
	_, err := config.Load("", []string{
		"SPID_IDP_SERVER_READ_TIMEOUT=ten",
		"SPID_IDP_LOG_LEVL=debug",
	})
	var problems *config.Problems
	if errors.As(err, &problems) {
		fmt.Println(problems)
		fmt.Println("exit status 2")
	}
	// Output:
	// SPID_IDP_LOG_LEVL: unknown variable, did you mean SPID_IDP_LOG_LEVEL?
	// server.read_timeout: must be a duration like "30s", "5m" or "24h", got "ten" (from SPID_IDP_SERVER_READ_TIMEOUT)
	// exit status 2
}
