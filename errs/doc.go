// Package errs is the one way bourse reports bad configuration and bad
// arguments: every package's Validate, New, Start and Parse returns a
// *FieldError (field, problem) or an error made with fmt.Errorf("%w: ...",
// ErrInvalid), and every such error wraps the one sentinel ErrInvalid.
//
//	if err := cfg.Validate(); err != nil {
//		var fe *errs.FieldError
//		if errors.As(err, &fe) {
//			fmt.Println(fe.Field, fe.Problem) // cluster.Config.Port is 70000, want 0..65535 ...
//		}
//		errors.Is(err, errs.ErrInvalid) // true
//	}
//
// A field is named by its package, type and path: "cluster.Config.Port",
// "exchange.Spec.Name", "consul.Config.Address", "static.Peers[2]". The
// YAML loader (cluster/config) maps these names to the file's keys with one
// table, so a rule of the core reports its key, file and line.
//
// The older sentinels are aliases of ErrInvalid and keep working with
// errors.Is: exchange.ErrInvalid, actors.ErrInvalid, cluster.ErrInvalidConfig
// and config.ErrInvalid; consul.ConfigError is an alias of FieldError.
//
// errs imports no other bourse package, so every package can use it.
package errs
