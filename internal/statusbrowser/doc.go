// Package statusbrowser tests a node's status page (internal/status) in a
// real headless browser: Debian's chromium, driven over the DevTools
// protocol with chromedp. It is a module of its own so that the library's
// users do not inherit chromedp.
//
// The test starts a cluster of 3 nodes, one per process, opens node 1's
// page, checks that it shows the 3 members and an exchange's handlers on
// each, kills node 3 with SIGKILL and checks that the page shows it down
// and its handler gone. Without chromium it skips, unless CI=true, where it
// fails. -screenshot=FILE (or BOURSE_STATUS_SCREENSHOT=FILE) writes a PNG
// of the 3-node page (docs/status.png is one).
package statusbrowser
