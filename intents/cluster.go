package intents

// Cluster groups texts that ask the same thing, by the matcher's own
// sentence similarity (the logistic model over IDF-weighted overlaps that
// scores a message against the FAQ's questions: a probability that two
// texts ask the same thing), with this matcher's normalisation, tokens and
// synonyms; document frequencies come from the texts themselves, as
// PairScores takes them.
//
// Greedy, in the order given (put the most frequent first: they seed the
// clusters): a text joins the cluster whose closest member among its first
// clusterProbe scores highest, when that is at least threshold; otherwise
// it starts a cluster. It returns the clusters as indexes into texts, each
// in the order given, the clusters in the order they were started. Cost:
// texts × clusters × clusterProbe similarities.
func (m *Matcher) Cluster(texts []string, threshold float64) [][]int {
	toks := make([][]string, len(texts))
	st := newStats()
	for i, t := range texts {
		toks[i] = analyze(t, m.tok, m.syn).Tokens
		st.observe(toks[i])
	}
	st.freeze(m.lx)
	docs := make([]doc, len(texts))
	for i := range texts {
		docs[i] = makeDoc(toks[i], st, m.lx)
	}
	var clusters [][]int
	for i := range docs {
		best, bestScore := -1, threshold
		for c, members := range clusters {
			for _, j := range members[:min(len(members), clusterProbe)] {
				if s := similarity(&docs[i], &docs[j]); s >= bestScore {
					best, bestScore = c, s
				}
			}
		}
		if best < 0 {
			clusters = append(clusters, []int{i})
			continue
		}
		clusters[best] = append(clusters[best], i)
	}
	return clusters
}

// clusterProbe is how many members of a cluster a text is compared with.
const clusterProbe = 5
