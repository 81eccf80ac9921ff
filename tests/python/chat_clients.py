"""Drives the control plane's chat endpoints with the real client libraries.

Usage: chat_clients.py BASE_URL KEY SITE

Prints one JSON object: what the `openai` client (streamed and not) and the
`ollama` client received from real sessions, what a question to a busy site
got and how fast, and what a wrong key got. The Rust test asserts on it.
"""

import json
import sys
import threading
import time

import ollama
import openai

base, key, site = sys.argv[1], sys.argv[2], sys.argv[3]
model = f"claude-ops-tier1@{site}"
question = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": "Is the host up?"},
    {"role": "assistant", "content": "Let me look."},
    {"role": "user", "content": "Please check the host now."},
]
out = {}

client = openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0, timeout=120)

# Streamed, with tool-call deltas accumulated the way the client documents.
content, calls, finish, usage = "", {}, None, None
for chunk in client.chat.completions.create(
    model=model, messages=question, stream=True, stream_options={"include_usage": True}
):
    if chunk.usage is not None:
        usage = chunk.usage.model_dump()
    for choice in chunk.choices:
        delta = choice.delta
        if delta.content:
            content += delta.content
        for call in delta.tool_calls or []:
            entry = calls.setdefault(call.index, {"name": "", "arguments": ""})
            if call.function and call.function.name:
                entry["name"] += call.function.name
            if call.function and call.function.arguments:
                entry["arguments"] += call.function.arguments
        if choice.finish_reason:
            finish = choice.finish_reason
out["openai_stream"] = {
    "content": content,
    "tool_calls": [calls[i] for i in sorted(calls)],
    "finish_reason": finish,
    "usage": usage,
}

# Not streamed.
answer = client.chat.completions.create(model=model, messages=question)
out["openai"] = {
    "content": answer.choices[0].message.content,
    "finish_reason": answer.choices[0].finish_reason,
    "usage": answer.usage.model_dump() if answer.usage else None,
    "models": [m.id for m in client.models.list()],
}

# The Ollama client, streamed (its default), with the key as a header.
oc = ollama.Client(host=base, headers={"Authorization": f"Bearer {key}"})
text, tools, done, eval_count = "", [], False, 0
for part in oc.chat(model=f"{model}:latest", messages=question, stream=True):
    text += part.message.content or ""
    for call in part.message.tool_calls or []:
        tools.append(call.function.name)
    if part.done:
        done, eval_count = True, part.eval_count or 0
out["ollama_stream"] = {"content": text, "tool_calls": tools, "done": done, "eval_count": eval_count}
out["ollama_models"] = [m.model for m in oc.list().models]
out["ollama_generate"] = oc.generate(model=model, prompt="Please check the host now.", stream=False).response

# A busy site: a slow session streams while a second question comes in.
first_text = threading.Event()
slow = {}


def slow_question():
    text = ""
    for chunk in client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "BUSY-CHECK: look slowly"}], stream=True
    ):
        for choice in chunk.choices:
            if choice.delta.content:
                text += choice.delta.content
                first_text.set()
    slow["content"] = text


thread = threading.Thread(target=slow_question)
thread.start()
first_text.wait(120)
started = time.monotonic()
busy = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Anything new?"}])
out["busy"] = {
    "content": busy.choices[0].message.content,
    "seconds": time.monotonic() - started,
    # Answered while the slow session still ran: it did not wait for it.
    "slow_still_running": thread.is_alive(),
}
thread.join(180)
out["slow"] = slow

try:
    openai.OpenAI(base_url=f"{base}/v1", api_key="wrong", max_retries=0).models.list()
    out["wrong_key"] = "accepted"
except openai.AuthenticationError as e:
    out["wrong_key"] = e.status_code

print(json.dumps(out))
