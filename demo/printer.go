package demo

import (
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/gaiia/clonebot/zendesksim"
)

// printer writes the ticket's conversation as people read it in Zendesk.
type printer struct {
	out     io.Writer
	sim     *zendesksim.Server
	names   map[int64]string
	printed map[int64]int // comments already printed, by ticket
}

func newPrinter(out io.Writer, sim *zendesksim.Server, names map[int64]string) *printer {
	return &printer{out: out, sim: sim, names: names, printed: map[int64]int{}}
}

// step announces what happens next in the story.
func (p *printer) step(format string, args ...any) {
	fmt.Fprintf(p.out, "\n==> %s\n", fmt.Sprintf(format, args...))
}

// reference is the line the bot adds to find its own comments again.
var reference = regexp.MustCompile(`(?m)^Ref: clonebot/.*$`)

// comments prints the ticket's comments not printed yet, then its status tag.
func (p *printer) comments(ticketID int64) {
	all := p.sim.Comments(ticketID)
	for _, c := range all[p.printed[ticketID]:] {
		kind := "public reply"
		if !c.Public {
			kind = "internal note"
		}
		fmt.Fprintf(p.out, "\n  --- %s, %s ---\n", p.name(c.AuthorID), kind)
		body := strings.TrimSpace(reference.ReplaceAllString(c.Body, ""))
		for _, line := range strings.Split(body, "\n") {
			fmt.Fprintf(p.out, "  | %s\n", line)
		}
		for _, a := range c.Attachments {
			fmt.Fprintf(p.out, "  | [attachment] %s (%s, %d bytes)\n", a.FileName, a.ContentType, a.Size)
		}
	}
	p.printed[ticketID] = len(all)
	t := p.sim.Ticket(ticketID)
	for _, tag := range t.Tags {
		if strings.HasPrefix(tag, "clone_status_") {
			fmt.Fprintf(p.out, "\n  (ticket #%d status tag: %s)\n", ticketID, tag)
		}
	}
}

func (p *printer) name(id int64) string {
	if n, ok := p.names[id]; ok {
		return n
	}
	return fmt.Sprintf("user %d", id)
}
