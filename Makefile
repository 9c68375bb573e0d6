# The two commands of the README, and the rest.
.PHONY: run test bench soak clean

run:            ## the whole system on the embedded default
	deploy/bootstrap.sh
	deploy/rabbitmq.sh
	.venv/bin/python -m deploy.embedded

test:           ## install everything the tests need, then run every test
	deploy/bootstrap.sh --test
	deploy/rabbitmq.sh
	.venv/bin/python -m pytest tests -q --durations=25

bench:          ## every benchmark (not tests), then one table of figures with peers: var/bench/table.md
	deploy/bootstrap.sh --test
	deploy/rabbitmq.sh
	.venv/bin/python tests/bench/run_all.py

soak:           ## 10 minutes of mixed load with one broker restart; prints counts in and out of every stage
	deploy/bootstrap.sh --test
	deploy/rabbitmq.sh
	.venv/bin/python -m tests.reliability.soak --minutes 10

clean:
	rm -rf var .pytest_cache
