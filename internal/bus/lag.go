package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/segmentio/kafka-go"
)

// GroupLag is how many messages of topics the consumer group has not
// committed yet: the sum over partitions of the end offset minus the
// committed offset (the first offset when the group has none).
func (c *Client) GroupLag(ctx context.Context, group string, topics []string) (int64, error) {
	md, err := c.admin.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return 0, fmt.Errorf("bus: lag of %s: metadata: %w", group, err)
	}
	parts := map[string][]int{}
	reqs := map[string][]kafka.OffsetRequest{}
	for _, t := range md.Topics {
		if t.Error != nil {
			return 0, fmt.Errorf("bus: lag of %s: topic %s: %w", group, t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			parts[t.Name] = append(parts[t.Name], p.ID)
			reqs[t.Name] = append(reqs[t.Name], kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
		}
	}
	if len(parts) == 0 {
		return 0, nil
	}
	committed, err := c.admin.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: parts})
	if err != nil {
		return 0, fmt.Errorf("bus: lag of %s: committed offsets: %w", group, err)
	}
	if errors.Is(committed.Error, kafka.GroupIdNotFound) {
		committed.Topics = nil // a group that never committed
	} else if committed.Error != nil {
		return 0, fmt.Errorf("bus: lag of %s: committed offsets: %w", group, committed.Error)
	}
	ends, err := c.admin.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: reqs})
	if err != nil {
		return 0, fmt.Errorf("bus: lag of %s: end offsets: %w", group, err)
	}
	var lag int64
	for topic, ps := range ends.Topics {
		done := map[int]int64{}
		for _, p := range committed.Topics[topic] {
			if p.Error == nil {
				done[p.Partition] = p.CommittedOffset
			}
		}
		for _, p := range ps {
			if p.Error != nil {
				return 0, fmt.Errorf("bus: lag of %s: %s/%d: %w", group, topic, p.Partition, p.Error)
			}
			from, ok := done[p.Partition]
			if !ok || from < p.FirstOffset {
				from = p.FirstOffset
			}
			lag += max(p.LastOffset-from, 0)
		}
	}
	return lag, nil
}
