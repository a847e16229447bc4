package checkd

// keywords are the configuration keywords the checker subsystem acts on;
// the daemon logs every other keyword as not supported yet. The data
// plane's keywords (lb_algo, lb_kind, inhibit_on_failure, sorry_server...)
// are in dataplane.go: only a subsystem that programs the kernel acts on
// them.
var keywords = []string{
	"global_defs", // its checker keywords are below (with -C no other subsystem runs)
	"virtual_server", "real_server", "protocol", "TCP_CHECK",
	"connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "connect_timeout", "fwmark",
	"retry", "nb_get_retry", "delay_before_retry", "delay_loop", "warmup", "alpha",
	"notify_up", "notify_down", "quorum", "hysteresis", "quorum_up", "quorum_down",
	"rs_init_notifies", "ha_suspend", "omega", "notify_fifo", "lvs_notify_fifo", "script_user", "enable_script_security",
	"MISC_CHECK", "misc_path", "misc_timeout", "misc_dynamic", "user", "log_all_failures", "checker_log_all_failures",
	"FILE_CHECK", "track_file", "file", "weight", "init_file", "SMTP_CHECK", "helo_name", "host",
	"notification_email", "notification_email_from", "smtp_server", "smtp_helo_name",
	"smtp_connect_timeout", "smtp_alert", "smtp_alert_checker", "no_checker_emails", "router_id",
	"UDP_CHECK", "payload", "require_reply", "min_reply_length", "max_reply_length", "DNS_CHECK", "type", "name", "PING_CHECK",
	"BFD_CHECK",                                                          // not run: bfd.go says what that means
	"lvs_netlink_monitor_rcv_bufs", "lvs_netlink_monitor_rcv_bufs_force", // the ha_suspend address monitor
	"lvs_netlink_cmd_rcv_bufs", "lvs_netlink_cmd_rcv_bufs_force", // the ha_suspend address listing
}

func init() { keywords = append(keywords, httpKeywords...) }
