"""Start moto's server (SQS and Secrets Manager for the local stack), with one repair for long
runs: moto 5.x checks a message's retention on every message ReceiveMessage hands out by
building all of the queue's attributes, three of which count the queue's messages, so each
received message costs time proportional to the queue's length. In a long chaos run the queues
hold hundreds of messages (extra deliveries, backoffs), receiving slows, the backlog grows and
the run decays. The repair reads the one attribute the check needs; what moto answers is
unchanged. Usage as `python -m moto.server`: moto_server.py -H HOST -p PORT."""
import sys

from moto.core.utils import unix_time
from moto.server import main
from moto.sqs.models import SQSBackend


def _retained(self, queue_name, message):
    period = int(self.get_queue(queue_name).message_retention_period)
    return period + message.sent_timestamp / 1000 > unix_time()


if not hasattr(SQSBackend, "is_message_valid_based_on_retention_period"):
    sys.exit("moto_server.py: this moto has no retention check to repair; update the script")
SQSBackend.is_message_valid_based_on_retention_period = _retained

if __name__ == "__main__":
    main(sys.argv[1:])
