package cloner

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// PlanDocument is what `clonebot plan --json` prints: the plan, with the drift of
// every cloned table and its sum per category. Every list is present, empty
// rather than null, so that a consumer needs no null checks; the schema is
// docs/plan.schema.json, described in docs/plan-json.md.
type PlanDocument struct {
	*Plan
}

// NewPlanDocument makes p's document. p is not changed.
func NewPlanDocument(p *Plan) (*PlanDocument, error) {
	// A copy through JSON is a deep one: the lists filled below are the copy's.
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode plan: %w", err)
	}
	var cp Plan
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, fmt.Errorf("copy plan: %w", err)
	}
	d := &PlanDocument{Plan: &cp}
	emptyLists(reflect.ValueOf(d).Elem())
	return d, nil
}

// emptyLists replaces every nil slice reachable from v (through structs,
// pointers and slices) by an empty one.
func emptyLists(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			emptyLists(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				emptyLists(f)
			}
		}
	case reflect.Slice:
		if v.IsNil() {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		}
		for i := range v.Len() {
			emptyLists(v.Index(i))
		}
	}
}
