package fleet

import (
	"slices"
	"strings"
)

// idOrder returns the indices of clients in the order of their IDs (byte
// order, as strings.Compare), and whether another client has its ID. Clients of equal IDs come out next to each
// other, in no particular order.
//
// IDs that arrive sorted (a server lists its clients so) cost one pass.
// Others are sorted eight bytes at a time, from the end of the prefix they
// all share: those bytes as an integer, by a radix sort, then each run of
// IDs that agree on them by the next eight. Strings are compared only in
// short runs: the IDs of a fleet (a prefix, a number or a host name) are
// told apart by a few bytes.
func idOrder(clients []Client) (order []int32, dup []bool) {
	n := len(clients)
	order = make([]int32, n)
	dup = make([]bool, n)
	sorted := true
	for i := range clients {
		order[i] = int32(i)
		if i > 0 && sorted {
			switch strings.Compare(clients[i-1].ID, clients[i].ID) {
			case 1:
				sorted = false
			case 0:
				dup[i-1], dup[i] = true, true
			}
		}
	}
	if sorted {
		return order, dup
	}
	// The prefix every ID shares.
	prefix := clients[0].ID
	for i := 1; i < n && prefix != ""; i++ {
		id := clients[i].ID
		k := 0
		for k < len(prefix) && k < len(id) && prefix[k] == id[k] {
			k++
		}
		prefix = prefix[:k]
	}
	clear(dup)
	keys := make([]keyed, n)
	for i := range keys {
		keys[i].idx = int32(i)
	}
	sortFrom(keys, clients, len(prefix), make([]keyed, n), dup)
	for i, k := range keys {
		order[i] = k.idx
	}
	return order, dup
}

// sortFrom sorts keys by the IDs of their clients, which agree on the
// bytes before skip, and marks the IDs found twice in dup. Eight bytes at
// a time are sorted as integers by a radix sort, and each run of equal
// bytes by the next eight; short runs are compared as strings. tmp is
// scratch as long as keys.
func sortFrom(keys []keyed, clients []Client, skip int, tmp []keyed, dup []bool) {
	if len(keys) <= 32 {
		sortStrings(keys, clients, dup)
		return
	}
	ended := true // every ID ends within these eight bytes
	for i := range keys {
		id := clients[keys[i].idx].ID
		keys[i].key = idKey(id, skip)
		ended = ended && len(id) <= skip+8
	}
	if sorted := radixSort(keys, tmp); &sorted[0] != &keys[0] {
		copy(keys, sorted)
	}
	for lo := 0; lo < len(keys); {
		hi := lo + 1
		for hi < len(keys) && keys[hi].key == keys[lo].key {
			hi++
		}
		if hi-lo > 1 {
			if ended {
				// Equal keys of IDs that end here are equal IDs, or IDs
				// that differ only by trailing zero bytes.
				sortStrings(keys[lo:hi], clients, dup)
			} else {
				sortFrom(keys[lo:hi], clients, skip+8, tmp[lo:hi], dup)
			}
		}
		lo = hi
	}
}

// sortStrings sorts keys by the IDs of their clients, comparing strings
// (whole: bytes of zero and the end of an ID look alike to the keys), and
// marks the IDs found twice in dup.
func sortStrings(keys []keyed, clients []Client, dup []bool) {
	slices.SortFunc(keys, func(x, y keyed) int {
		return strings.Compare(clients[x.idx].ID, clients[y.idx].ID)
	})
	for k := 1; k < len(keys); k++ {
		if clients[keys[k-1].idx].ID == clients[keys[k].idx].ID {
			dup[keys[k-1].idx], dup[keys[k].idx] = true, true
		}
	}
}

// keyed is a client's index with the integer its ID sorts by first.
type keyed struct {
	key uint64
	idx int32
}

// idKey returns the eight bytes of id from skip, big-endian, padded with
// zeros: keys sort as the IDs do, except that IDs whose eight bytes are
// equal (or equal but for the padding) have equal keys.
func idKey(id string, skip int) uint64 {
	var k uint64
	for i := range 8 {
		k <<= 8
		if j := skip + i; j < len(id) {
			k |= uint64(id[j])
		}
	}
	return k
}

// radixSort sorts by key, least significant byte first, skipping the
// bytes every key has alike. It returns keys or tmp, as long as keys,
// whichever holds the result.
func radixSort(keys, tmp []keyed) []keyed {
	var counts [8][256]int
	for _, k := range keys {
		for b := range 8 {
			counts[b][byte(k.key>>(8*b))]++
		}
	}
	for b := range 8 {
		c := &counts[b]
		if c[byte(keys[0].key>>(8*b))] == len(keys) {
			continue // one value: the pass would change nothing
		}
		var pos [256]int
		sum := 0
		for v, n := range c {
			pos[v] = sum
			sum += n
		}
		for _, k := range keys {
			v := byte(k.key >> (8 * b))
			tmp[pos[v]] = k
			pos[v]++
		}
		keys, tmp = tmp, keys
	}
	return keys
}
