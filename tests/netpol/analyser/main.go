// netpol-query: asks cyclonus's NetworkPolicy matcher (github.com/mattfenwick/cyclonus/pkg/matcher) whether
// each connection of a list is allowed by a set of NetworkPolicies. The analysis is cyclonus's; this file
// only reads JSON from stdin and writes JSON to stdout, so the tests can table-test the policies the
// operator created with an evaluator nobody on the project wrote.
//
// stdin:  {"policies": [<NetworkPolicy>...], "traffic": [<cyclonus matcher.Traffic>...]}
// stdout: [{"allowed": bool, "ingress": bool, "egress": bool}, ...] in the order of "traffic"
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/mattfenwick/cyclonus/pkg/matcher"
	networkingv1 "k8s.io/api/networking/v1"
)

type query struct {
	Policies []*networkingv1.NetworkPolicy `json:"policies"`
	Traffic  []*matcher.Traffic            `json:"traffic"`
}

type answer struct {
	Allowed bool `json:"allowed"`
	Ingress bool `json:"ingress"`
	Egress  bool `json:"egress"`
}

func main() {
	var q query
	if err := json.NewDecoder(os.Stdin).Decode(&q); err != nil {
		fmt.Fprintf(os.Stderr, "netpol-query: bad input: %v\n", err)
		os.Exit(2)
	}
	policy := matcher.BuildNetworkPolicies(false, q.Policies)
	out := make([]answer, 0, len(q.Traffic))
	for _, t := range q.Traffic {
		r := policy.IsTrafficAllowed(t)
		out = append(out, answer{Allowed: r.IsAllowed(), Ingress: r.Ingress.IsAllowed(), Egress: r.Egress.IsAllowed()})
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintf(os.Stderr, "netpol-query: %v\n", err)
		os.Exit(1)
	}
}
