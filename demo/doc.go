// Package demo tells clonebot's whole story on one machine: it creates a tenant's
// production and drifted sandbox instances on the local PostgreSQL, starts a Zendesk
// simulator and a real clonebot server, and walks one customer ticket from a request
// with a missing field through approval to the ready notice, then back: the
// customer asks for the previous sandbox, an agent adds the rollback tag, and the
// sandbox is restored row for row. It prints the conversation as the customer and
// the agent would read it.
//
// End-to-end tests run the same scenario and assert on what it leaves behind.
package demo
