package checkd

// keywords are the configuration keywords the checker subsystem acts on;
// the daemon logs every other keyword as not supported yet. The data
// plane's keywords (lb_algo, lb_kind, persistence, inhibit_on_failure,
// sorry_server...) are not here: no kernel is programmed yet.
var keywords = []string{
	"virtual_server", "real_server", "protocol", "TCP_CHECK",
	"connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "connect_timeout", "fwmark",
	"retry", "nb_get_retry", "delay_before_retry", "delay_loop", "warmup", "alpha",
	"notify_up", "notify_down", "quorum", "hysteresis", "quorum_up", "quorum_down",
	"rs_init_notifies", "notify_fifo", "lvs_notify_fifo", "script_user", "enable_script_security",
}

func init() { keywords = append(keywords, httpKeywords...) }
