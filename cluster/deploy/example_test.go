package deploy_test

import (
	"context"
	"fmt"

	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/cluster/deploy"
	"google.golang.org/protobuf/proto"
)

// Eight order books in zone eu, at most two per node: every node computes
// this same assignment from the same members.
func ExamplePlace() {
	members := []deploy.Candidate{
		{Node: "n1", Labels: map[string]string{"zone": "eu"}},
		{Node: "n2", Labels: map[string]string{"zone": "eu"}},
		{Node: "n3", Labels: map[string]string{"zone": "us"}},
		{Node: "n4", Labels: map[string]string{"zone": "eu"}},
		{Node: "n5", Labels: map[string]string{"zone": "eu"}},
	}
	books := deploy.Spec{
		Name: "books", Exchange: "orders", Kind: "order-book",
		Mode: deploy.ModeReplicas, Total: 8, MaxPerNode: 2,
		Selector: deploy.Selector{MatchLabels: map[string]string{"zone": "eu"}},
	}
	a, err := deploy.Place(books, members)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, n := range []string{"n1", "n2", "n3", "n4", "n5"} {
		fmt.Println(n, a.On(n))
	}

	// Nine do not fit.
	books.Total = 9
	_, err = deploy.Place(books, members)
	fmt.Println(err)
	// Output:
	// n1 [3 4]
	// n2 [6 7]
	// n3 []
	// n4 [0 5]
	// n5 [1 2]
	// bourse: deploy: the instances cannot fit on the eligible nodes: service "books": 9 instances, at most 2 per node, need 5 nodes; 4 of the 5 members match the selector
}

// A kind is registered by name on every node; a spec names it.
func ExampleKinds() {
	kinds := deploy.NewKinds()
	err := kinds.Register("order-book", func(ctx context.Context, spec deploy.Spec, slot int) (deploy.Instance, error) {
		book := fmt.Sprintf("%s-%d", spec.Name, slot) // the slot's own state
		return deploy.Instance{Handler: actors.HandlerFunc(func(ctx context.Context, r *actors.Request) (proto.Message, error) {
			_ = book
			return r.Payload, nil
		})}, nil
	})
	fmt.Println(err)
	fmt.Println(kinds.Check("orderbook"))
	// Output:
	// <nil>
	// bourse: deploy: unknown service kind "orderbook" (known: order-book); did you mean "order-book"?
}
