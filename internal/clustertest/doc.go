// Package clustertest holds the cluster test: two `spid-idp serve`
// processes on one PostgreSQL and one private Redis, behind a round-robin
// reverse proxy, through dependency outages and the death of a node. It
// has no code of its own; its configuration is the tested example of
// README "Running a cluster".
package clustertest
