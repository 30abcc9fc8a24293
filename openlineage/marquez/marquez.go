// Package marquez answers Marquez's lineage query (GET /api/v1/lineage?
// nodeId=...&depth=N) from Freshet's lineage graph, in Marquez's shape,
// so that tools written for Marquez read Freshet's lineage.
//
// Marquez's graph alternates datasets and jobs; Freshet's links assets to
// assets. Each asset is a dataset (an ol/<namespace>/<name> key is the
// dataset it was made from, any other key the dataset (Namespaces.Dataset,
// key)); each edge U -> D becomes U -> J -> D where J is the job that
// builds D: the job its latest OpenLineage event named (job_namespace,
// job_name), else the job (Namespaces.Job, D's key), which is the job
// Freshet's own OpenLineage events (package openlineage/emit) give D's
// step. A job that builds several assets is one node with all their
// inputs and outputs, as in Marquez.
package marquez

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/catalog"
	"github.com/freshet-dev/freshet/lineage"
	"github.com/freshet-dev/freshet/openlineage"
)

// Node types and the data types Freshet reports.
const (
	TypeDataset = "DATASET"
	TypeJob     = "JOB"
	datasetType = "DB_TABLE"
	jobType     = "BATCH"
)

// Errors the API maps to 400 and 404.
var (
	ErrBadNodeID = errors.New("invalid nodeId")
	ErrNotFound  = errors.New("node not found")
)

// Namespaces are those of Freshet's own jobs and of assets not made from
// OpenLineage datasets (the openlineage block's namespace and
// dataset_namespace).
type Namespaces struct {
	Job, Dataset string
}

// Catalog gives what the answer shows of an asset: description, tags,
// columns, times, and the job its latest event named.
type Catalog interface {
	Glance(k asset.Key, meta ...string) (catalog.Glance, bool)
}

// jobMeta are the metadata names of the job an OpenLineage event names.
var jobMeta = []string{"job_namespace", "job_name"}

// Lineage is Marquez's LineageGraph.
type Lineage struct {
	Graph []Node `json:"graph"`
}

// Node is one dataset or job with its edges.
type Node struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Data     any    `json:"data"`
	InEdges  []Edge `json:"inEdges"`
	OutEdges []Edge `json:"outEdges"`
}

// Edge links two node ids.
type Edge struct {
	Origin      string `json:"origin"`
	Destination string `json:"destination"`
}

// ID is a dataset's or a job's id.
type ID struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// DatasetData is the data of a DATASET node, Marquez's members plus the
// Freshet asset key.
type DatasetData struct {
	ID             ID         `json:"id"`
	Type           string     `json:"type"`
	Name           string     `json:"name"`
	PhysicalName   string     `json:"physicalName"`
	CreatedAt      *time.Time `json:"createdAt"`
	UpdatedAt      *time.Time `json:"updatedAt"`
	Namespace      string     `json:"namespace"`
	SourceName     string     `json:"sourceName"`
	Fields         []Field    `json:"fields"`
	Tags           []string   `json:"tags"`
	LastModifiedAt *time.Time `json:"lastModifiedAt"`
	Description    *string    `json:"description"`
	AssetKey       asset.Key  `json:"freshetAssetKey"`
}

// Field is a column.
type Field struct {
	Name        string   `json:"name"`
	Type        *string  `json:"type"`
	Tags        []string `json:"tags"`
	Description *string  `json:"description"`
}

// JobData is the data of a JOB node.
type JobData struct {
	ID            ID      `json:"id"`
	Type          string  `json:"type"`
	Name          string  `json:"name"`
	SimpleName    string  `json:"simpleName"`
	ParentJobName *string `json:"parentJobName"`
	// Times of the latest event that named the job, when one did.
	CreatedAt   *time.Time `json:"createdAt"`
	UpdatedAt   *time.Time `json:"updatedAt"`
	Namespace   string     `json:"namespace"`
	Inputs      []ID       `json:"inputs"`
	Outputs     []ID       `json:"outputs"`
	Location    *string    `json:"location"`
	Description *string    `json:"description"`
	LatestRun   any        `json:"latestRun"`
}

// MaxNodeID bounds a nodeId's length: a dataset's asset key is at most
// 1024 bytes, and each ':' in it is a split to try.
const MaxNodeID = 4096

// Query answers nodeId at depth: the node, and every asset within depth
// asset-to-asset edges of it upstream and downstream (for a job: of the
// assets it builds), with the jobs between them.
func Query(g *lineage.Graph, cat Catalog, ns Namespaces, nodeID string, depth int) (Lineage, error) {
	q := query{g: g, cat: cat, ns: ns, jobs: map[asset.Key]ID{}, assets: map[asset.Key]*catalog.Glance{}}
	if len(nodeID) > MaxNodeID {
		return Lineage{}, fmt.Errorf("%w: longer than %d bytes", ErrBadNodeID, MaxNodeID)
	}
	kind, rest, ok := strings.Cut(nodeID, ":")
	if !ok || (kind != "dataset" && kind != "job") {
		return Lineage{}, fmt.Errorf(`%w: want dataset:NAMESPACE:NAME or job:NAMESPACE:NAME, not %q`, ErrBadNodeID, nodeID)
	}
	if !strings.Contains(rest, ":") {
		return Lineage{}, fmt.Errorf(`%w: %q needs NAMESPACE:NAME after %q`, ErrBadNodeID, nodeID, kind+":")
	}
	var start []asset.Key
	if kind == "dataset" {
		if k, ok := q.datasetKey(rest); ok {
			start = []asset.Key{k}
		}
	} else {
		start = q.jobOutputs(rest)
	}
	if len(start) == 0 {
		return Lineage{}, fmt.Errorf("%w: %s is not in the lineage graph", ErrNotFound, nodeID)
	}
	var sub lineage.Subgraph
	for _, k := range start {
		s, err := g.Neighbourhood(k, depth)
		if err != nil {
			return Lineage{}, err
		}
		sub.Nodes = append(sub.Nodes, s.Nodes...)
		sub.Edges = append(sub.Edges, s.Edges...)
	}
	return q.build(sub), nil
}

type query struct {
	g    *lineage.Graph
	cat  Catalog
	ns   Namespaces
	jobs map[asset.Key]ID // asset -> the job that builds it
	// assets caches glances (nil: not in the catalog): each is wanted
	// for its dataset and its job.
	assets map[asset.Key]*catalog.Glance
}

func (q *query) asset(k asset.Key) *catalog.Glance {
	if a, ok := q.assets[k]; ok {
		return a
	}
	var p *catalog.Glance
	if a, ok := q.cat.Glance(k, jobMeta...); ok {
		p = &a
	}
	q.assets[k] = p
	return p
}

// datasetKey finds the asset of "NAMESPACE:NAME". Namespaces and names
// both hold ':' (postgres://db:5432, s3 paths), so every split is tried,
// leftmost first, and the first that names an asset in the graph wins.
func (q *query) datasetKey(rest string) (asset.Key, bool) {
	for i := 0; i < len(rest); i++ {
		if rest[i] != ':' {
			continue
		}
		if k, ok := q.keyOf(rest[:i], rest[i+1:]); ok && q.g.Has(k) {
			return k, true
		}
	}
	return "", false
}

// keyOf is the reverse of emit.DatasetOf.
func (q *query) keyOf(namespace, name string) (asset.Key, bool) {
	if namespace == "" || name == "" {
		return "", false
	}
	if namespace == q.ns.Dataset {
		k, err := asset.ParseKey(name)
		return k, err == nil
	}
	k, err := openlineage.DatasetKey(namespace, name)
	return k, err == nil
}

// jobOutputs finds the assets the job "NAMESPACE:NAME" builds: in
// Freshet's namespace the job named after an asset (quick), else every
// asset whose latest event named that job (one pass over the graph).
func (q *query) jobOutputs(rest string) []asset.Key {
	if name, ok := strings.CutPrefix(rest, q.ns.Job+":"); ok {
		if k, err := asset.ParseKey(name); err == nil && q.g.Has(k) && len(q.g.Parents(k)) > 0 &&
			q.job(k) == (ID{Namespace: q.ns.Job, Name: name}) {
			return []asset.Key{k}
		}
	}
	var out []asset.Key
	for _, k := range q.g.Keys() {
		if len(q.g.Parents(k)) == 0 {
			continue
		}
		if j := q.job(k); len(j.Namespace)+1+len(j.Name) == len(rest) && strings.HasPrefix(rest, j.Namespace) &&
			rest[len(j.Namespace)] == ':' && strings.HasSuffix(rest, j.Name) {
			out = append(out, k)
		}
	}
	return out
}

// job is the job that builds k (see the package comment).
func (q *query) job(k asset.Key) ID {
	if j, ok := q.jobs[k]; ok {
		return j
	}
	j := ID{Namespace: q.ns.Job, Name: string(k)}
	if a := q.asset(k); a != nil && a.Meta != nil {
		j = ID{Namespace: a.Meta[0], Name: a.Meta[1]}
	}
	q.jobs[k] = j
	return j
}

func (q *query) dataset(k asset.Key) ID {
	if ns, name, ok := openlineage.ParseDatasetKey(k); ok {
		return ID{Namespace: ns, Name: name}
	}
	return ID{Namespace: q.ns.Dataset, Name: string(k)}
}

func datasetNodeID(d ID) string { return "dataset:" + d.Namespace + ":" + d.Name }
func jobNodeID(j ID) string     { return "job:" + j.Namespace + ":" + j.Name }

// build turns the asset subgraph into Marquez's graph. Nodes live in
// one slice and edges are pairs of positions, sorted and deduplicated,
// then laid out in two backing arrays: a view of thousands of nodes
// allocates little beyond the nodes' own data.
func (q *query) build(sub lineage.Subgraph) Lineage {
	nodes := make([]Node, 0, 2*len(sub.Nodes))
	jobs := map[int32]*JobData{}
	at := make(map[string]int32, 2*len(sub.Nodes)) // node id -> position
	byKey := make(map[asset.Key]int32, len(sub.Nodes))
	add := func(n Node) int32 {
		if i, ok := at[n.ID]; ok {
			return i
		}
		i := int32(len(nodes))
		nodes = append(nodes, n)
		at[n.ID] = i
		return i
	}
	datasetNode := func(k asset.Key) int32 {
		if i, ok := byKey[k]; ok {
			return i
		}
		d := q.dataset(k)
		i := add(Node{ID: datasetNodeID(d), Type: TypeDataset, Data: q.datasetData(k, d)})
		byKey[k] = i
		return i
	}
	for _, n := range sub.Nodes {
		datasetNode(n.Key)
	}
	pairs := make([][2]int32, 0, 2*len(sub.Edges))
	for _, e := range sub.Edges {
		up, down := datasetNode(e.Upstream), datasetNode(e.Downstream)
		j := q.job(e.Downstream)
		ji := add(Node{ID: jobNodeID(j), Type: TypeJob})
		jd := jobs[ji]
		if jd == nil {
			jd = &JobData{ID: j, Type: jobType, Name: j.Name, SimpleName: j.Name, Namespace: j.Namespace}
			jobs[ji] = jd
			nodes[ji].Data = jd
		}
		downData := nodes[down].Data.(*DatasetData)
		jd.Inputs = append(jd.Inputs, nodes[up].Data.(*DatasetData).ID)
		jd.Outputs = append(jd.Outputs, downData.ID)
		if t := downData.LastModifiedAt; t != nil && (jd.UpdatedAt == nil || t.After(*jd.UpdatedAt)) {
			jd.UpdatedAt = t
			if jd.CreatedAt == nil {
				jd.CreatedAt = t
			}
		}
		pairs = append(pairs, [2]int32{up, ji}, [2]int32{ji, down})
	}
	byID := func(a, b ID) int { return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name)) }
	for _, jd := range jobs {
		slices.SortFunc(jd.Inputs, byID)
		jd.Inputs = slices.Compact(jd.Inputs)
		slices.SortFunc(jd.Outputs, byID)
		jd.Outputs = slices.Compact(jd.Outputs)
	}
	// Positions in id order, so the answer is the same every time.
	order := make([]int32, len(nodes))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(nodes[a].ID, nodes[b].ID) })
	rank := make([]int32, len(nodes))
	for r, i := range order {
		rank[i] = int32(r)
	}
	for i := range pairs {
		pairs[i] = [2]int32{rank[pairs[i][0]], rank[pairs[i][1]]}
	}
	slices.SortFunc(pairs, func(a, b [2]int32) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	pairs = slices.Compact(pairs)
	out := Lineage{Graph: make([]Node, len(nodes))}
	for r, i := range order {
		out.Graph[r] = nodes[i]
	}
	g := out.Graph
	for r := range g {
		g[r].OutEdges, g[r].InEdges = []Edge{}, []Edge{}
	}
	// lay puts the edges of pairs, grouped by end side (0: origin, 1:
	// destination), in one backing array, each node's run its slice.
	lay := func(side int, set func(n *Node, es []Edge)) {
		es := make([]Edge, len(pairs))
		for k, p := range pairs {
			es[k] = Edge{Origin: g[p[0]].ID, Destination: g[p[1]].ID}
		}
		for lo := 0; lo < len(pairs); {
			hi := lo
			for hi < len(pairs) && pairs[hi][side] == pairs[lo][side] {
				hi++
			}
			set(&g[pairs[lo][side]], es[lo:hi:hi])
			lo = hi
		}
	}
	lay(0, func(n *Node, es []Edge) { n.OutEdges = es }) // pairs are in origin order
	slices.SortFunc(pairs, func(a, b [2]int32) int { return cmp.Or(cmp.Compare(a[1], b[1]), cmp.Compare(a[0], b[0])) })
	lay(1, func(n *Node, es []Edge) { n.InEdges = es })
	return out
}

func (q *query) datasetData(k asset.Key, id ID) *DatasetData {
	d := &DatasetData{ID: id, Type: datasetType, Name: id.Name, PhysicalName: id.Name, Namespace: id.Namespace,
		SourceName: id.Namespace, Fields: []Field{}, Tags: []string{}, AssetKey: k}
	a := q.asset(k)
	if a == nil {
		return d
	}
	if !a.FirstTime.IsZero() {
		d.CreatedAt, d.UpdatedAt = &a.FirstTime, &a.LastTime
	}
	if !a.LastMaterialization.IsZero() {
		d.LastModifiedAt = &a.LastMaterialization
	}
	if a.Description != "" {
		d.Description = &a.Description
	}
	if a.Tags != nil {
		d.Tags = a.Tags
	}
	for _, c := range a.Columns {
		f := Field{Name: c.Name, Tags: []string{}}
		if c.Type != "" {
			f.Type = &c.Type
		}
		if c.Description != "" {
			f.Description = &c.Description
		}
		d.Fields = append(d.Fields, f)
	}
	return d
}
