package intents

// CutForSearch segments text for a search index: the words Cut gives, plus
// the dictionary words inside the longer ones (开发票 also gives 开发 and
// 发票), so that a query cut with Cut finds a word inside a longer one. It
// goes through gojieba's own CutForSearch (with the HMM) and drops
// whitespace tokens; it is not on the matcher's path.
func (t *JiebaTokenizer) CutForSearch(text string) []string {
	return dropSpaces(t.j.CutForSearch(text, true))
}
