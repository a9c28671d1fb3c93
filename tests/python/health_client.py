"""Drives a grpc.health.v1.Health server with the published Python client and prints what it saw.

Usage: python health_client.py HOST:PORT

It uses the stubs that `grpcio-health-checking` ships (no code generation), sets a deadline on
every call and prints one JSON object on stdout. It does not judge the answers: the Rust test
(tests/interop_python.rs) asserts them, so every outcome, error codes included, is recorded.
"""

import json
import queue
import sys
import threading
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

# Deadline of each unary call: a Check runs the checks it covers (each bounded by its own timeout).
CHECK_DEADLINE_S = 10.0
# Deadline of each Watch stream; the client cancels it long before.
WATCH_DEADLINE_S = 30.0
# How long to wait for the first message of a Watch stream.
FIRST_MESSAGE_TIMEOUT_S = 10.0
# How long a Watch stream is observed after its first message.
OBSERVE_S = 1.0


def status_name(value):
    return health_pb2.HealthCheckResponse.ServingStatus.Name(value)


def check(stub, name):
    """Check(name): {"status": NAME} or {"code": NAME, "details": ...}."""
    try:
        response = stub.Check(
            health_pb2.HealthCheckRequest(service=name), timeout=CHECK_DEADLINE_S
        )
    except grpc.RpcError as error:
        details = error.details() or ""
        return {"code": error.code().name, "details": details[:300]}
    return {"status": status_name(response.status)}


def watch(stub, name):
    """Watch(name): the first message, what else came within OBSERVE_S, whether the stream was
    still open then, and how it ended once cancelled."""
    call = stub.Watch(health_pb2.HealthCheckRequest(service=name), timeout=WATCH_DEADLINE_S)
    events = queue.Queue()

    def pump():
        try:
            for message in call:
                events.put(("message", status_name(message.status)))
            events.put(("end", None))
        except grpc.RpcError as error:
            events.put(("error", error.code().name))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()

    result = {"first": None, "later": [], "open_after_observing": False, "ended_with": None}
    try:
        kind, value = events.get(timeout=FIRST_MESSAGE_TIMEOUT_S)
    except queue.Empty:
        result["first"] = "no message within %.0f s" % FIRST_MESSAGE_TIMEOUT_S
        call.cancel()
        return result
    if kind != "message":
        result["first"] = "%s: %s" % (kind, value)
        return result
    result["first"] = value

    time.sleep(OBSERVE_S)
    ended = False
    while True:
        try:
            kind, value = events.get_nowait()
        except queue.Empty:
            break
        if kind == "message":
            result["later"].append(value)
        else:
            ended = True
            result["ended_with"] = "%s: %s" % (kind, value)
    result["open_after_observing"] = not ended and call.is_active()

    call.cancel()
    reader.join(timeout=5.0)
    if not ended:
        try:
            kind, value = events.get(timeout=1.0)
            result["ended_with"] = "%s: %s" % (kind, value)
        except queue.Empty:
            result["ended_with"] = "nothing after cancel"
    return result


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: health_client.py HOST:PORT")
    address = sys.argv[1]
    results = {"grpcio": grpc.__version__}
    with grpc.insecure_channel(address) as channel:
        grpc.channel_ready_future(channel).result(timeout=CHECK_DEADLINE_S)
        stub = health_pb2_grpc.HealthStub(channel)
        results["check"] = {
            name: check(stub, name)
            for name in ["", "plugin", "readiness", "kv.v1.KV", "kv_store"]
        }
        results["check_unknown"] = check(stub, "no-such-service")
        results["check_1mib_name"] = check(stub, "a" * (1 << 20))
        results["check_bad_chars"] = check(stub, "no such service!")
        results["watch_readiness"] = watch(stub, "readiness")
        results["watch_unknown"] = watch(stub, "no-such-service")
        results["check_after"] = check(stub, "")
    json.dump(results, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
