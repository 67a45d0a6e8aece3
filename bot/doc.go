// Package bot assembles a running clonebot from its configuration: the HTTP server
// (webhooks, health, readiness, metrics), the bot database and its migrations, and the
// River client whose workers carry requests through their life cycle. cmd/clonebot
// and the demo both run it.
package bot
