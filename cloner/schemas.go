package cloner

import (
	"fmt"
	"hash/fnv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// The bot's schemas in an instance database: the marker schema and, per application
// schema, one for the tables a clone stages and one for the pre-clone tables kept for
// rollback. The application is never granted anything on them, and the manifest never
// classifies them.
const (
	stagePrefix      = "clonebot_stage_"
	rollbackPrefix   = "clonebot_rollback_"
	maxIdentifierLen = 63 // NAMEDATALEN - 1
)

// isBotSchema reports whether a schema is the bot's own.
func isBotSchema(name string) bool {
	return name == Schema || strings.HasPrefix(name, stagePrefix) || strings.HasPrefix(name, rollbackPrefix)
}

// stageSchema is where the staged replacement of app's tables is built.
func stageSchema(app string) string { return botSchemaName(stagePrefix, app) }

// rollbackSchema is where app's pre-clone tables are kept.
func rollbackSchema(app string) string { return botSchemaName(rollbackPrefix, app) }

// botSchemaName appends the application schema's name to prefix; a name too long
// for an identifier is cut and made unique with a hash of the whole.
func botSchemaName(prefix, app string) string {
	if len(prefix)+len(app) <= maxIdentifierLen {
		return prefix + app
	}
	h := fnv.New64a()
	h.Write([]byte(app))
	suffix := fmt.Sprintf("_%016x", h.Sum64())
	keep := maxIdentifierLen - len(prefix) - len(suffix)
	for keep > 0 && !utf8.RuneStart(app[keep]) {
		keep--
	}
	return prefix + app[:keep] + suffix
}

// quoteLiteral quotes s as an SQL string literal (standard_conforming_strings on,
// which the clone's sessions set).
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// quoteIdent quotes one identifier.
func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }
