"""A small Python client and CLI for sluicegate's GatewayService: `python -m sluicegate.client "question"`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator

import grpc
from google.protobuf import json_format

from sluicegate.common.v1 import chat_pb2
from sluicegate.convert import text_message
from sluicegate.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from sluicegate.runtime.errors import ServiceError


class GatewayClient:
    """A blocking client over one channel; `chat` answers at once, `chat_stream` yields text then the summary."""

    def __init__(self, address: str, api_key: str, timeout_seconds: float = 60.0) -> None:
        self._channel = grpc.insecure_channel(address)
        self._stub = gateway_pb2_grpc.GatewayServiceStub(self._channel)
        self._metadata = (("authorization", f"Bearer {api_key}"),)
        self._timeout = timeout_seconds

    def close(self) -> None:
        self._channel.close()

    @staticmethod
    def _messages(prompt: str, system: str | None) -> list[chat_pb2.Message]:
        messages = [text_message(chat_pb2.ROLE_SYSTEM, system)] if system else []
        messages.append(text_message(chat_pb2.ROLE_USER, prompt))
        return messages

    def chat(self, prompt: str, model: str = "auto", system: str | None = None, **fields) -> gateway_pb2.ChatResponse:
        request = gateway_pb2.ChatRequest(messages=self._messages(prompt, system), model=model, **fields)
        return self._stub.Chat(request, metadata=self._metadata, timeout=self._timeout)

    def chat_stream(
        self, prompt: str, model: str = "auto", system: str | None = None, **fields
    ) -> Iterator[gateway_pb2.ChatStreamResponse]:
        request = gateway_pb2.ChatStreamRequest(messages=self._messages(prompt, system), model=model, **fields)
        yield from self._stub.ChatStream(request, metadata=self._metadata, timeout=self._timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sluicegate.client", description=__doc__)
    parser.add_argument("prompt")
    parser.add_argument("--address", default="127.0.0.1:8080")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--model", default="auto")
    parser.add_argument("--system", default=None)
    parser.add_argument("--max-tokens", type=int, default=0)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument(
        "--continue-on-interruption",
        action="store_true",
        help="with --stream: a stream the provider cuts continues on the next deployment instead of failing",
    )
    args = parser.parse_args(argv)
    client = GatewayClient(args.address, args.api_key)
    params = chat_pb2.GenerationParams(max_tokens=args.max_tokens)
    try:
        if args.stream:
            summary = None
            events = client.chat_stream(
                args.prompt,
                args.model,
                args.system,
                params=params,
                continue_on_interruption=args.continue_on_interruption,
            )
            for event in events:
                if event.HasField("delta"):
                    sys.stdout.write(event.delta.text)
                    sys.stdout.flush()
                else:
                    summary = event.summary
            sys.stdout.write("\n\n" + json.dumps(json_format.MessageToDict(summary), indent=2) + "\n")
        else:
            response = client.chat(args.prompt, args.model, args.system, params=params)
            sys.stdout.write(response.message.content[0].text + "\n\n")
            sys.stdout.write(json.dumps(json_format.MessageToDict(response.decision), indent=2) + "\n")
    except grpc.RpcError as exc:
        error = ServiceError.from_rpc_error(exc)
        sys.stderr.write(f"error: {error.code.name} {error.reason}: {error.message}\n")
        if error.decision is not None:
            sys.stderr.write(json.dumps(json_format.MessageToDict(error.decision), indent=2) + "\n")
        return 1
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
