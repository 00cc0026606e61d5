package kv

// mergePatch applies the JSON merge patch patch to target (RFC 7386) and
// returns the result, as Vault's framework.HandlePatchOperation does with
// json-patch's MergePatch: an object patch is merged member by member into
// target (an object, or replaced by an empty one first), a null member
// removes the member, and any other patch value (arrays included) replaces
// the target whole. target and patch are decoded JSON (map[string]any,
// []any, json.Number, string, bool, nil); target's maps are modified in
// place.
func mergePatch(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = make(map[string]any, len(pm))
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
			continue
		}
		tm[k] = mergePatch(tm[k], v)
	}
	return tm
}
