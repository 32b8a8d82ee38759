// Command benthos is the peer of meterflow's "peer" benchmark: Benthos v4 core (the pure and io
// component packages) plus the plugins in this folder (aws_s3 and kafka_franz inputs, kafka_franz
// output, avro processor), all registered through Benthos's public plugin API. See README.md.
package main

import (
	"context"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
)

func main() {
	service.RunCLI(context.Background())
}
