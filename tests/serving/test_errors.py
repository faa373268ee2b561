"""Bad input never crashes or wedges the server: every error has its status, its field and one shape."""

from __future__ import annotations

import logging
import threading
import time

from fastapi.testclient import TestClient

from adapterhub.registry import Registry


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == response.status_code
    return body["error"]


def test_malformed_json_and_wrong_types_are_422_naming_the_field(client: TestClient) -> None:
    response = client.post(
        "/v1/predict", content=b'{"adapter": "sentiment", "inputs": [', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "JSON" in _error(response)["message"]

    response = client.post("/v1/predict", json={"adapter": "sentiment", "inputs": "one text"})
    error = _error(response)
    assert response.status_code == 422 and error["param"] == "inputs" and error["type"] == "invalid_request"

    response = client.post("/v1/predict", json={"adapter": "sentiment", "inputs": ["ok", 3]})
    assert response.status_code == 422 and _error(response)["param"] == "inputs.1"

    response = client.post("/v1/predict", json={"adapter": "sentiment", "inputs": []})
    assert response.status_code == 422 and _error(response)["param"] == "inputs"

    response = client.post("/v1/predict", json={"adapter": "sentiment", "inputs": ["ok"], "optoins": {}})
    assert response.status_code == 422 and _error(response)["param"] == "optoins"

    response = client.post("/v1/predict", json={"adapter": "poet", "inputs": ["ok"], "options": {"top_p": 2}})
    assert response.status_code == 422 and _error(response)["param"] == "options.top_p"

    response = client.post("/v1/predict", json={"adapter": "../etc", "inputs": ["ok"]})
    assert response.status_code == 422 and _error(response)["type"] == "invalid_name"
    assert client.post("/v1/predict", json={"adapter": "sentiment", "inputs": ["still serving"]}).status_code == 200


def test_unknown_adapter_is_404_listing_what_exists(client: TestClient) -> None:
    response = client.post("/v1/predict", json={"adapter": "sentimnet", "inputs": ["x"]})
    error = _error(response)
    assert response.status_code == 404 and error["type"] == "adapter_not_found"
    assert error["available"] == ["ner", "poet", "sentiment", "topic"]
    assert "sentimnet" in error["message"]
    response = client.post("/v1/predict", json={"adapter": "sentiment@7", "inputs": ["x"]})
    assert response.status_code == 404 and "no version 7" in _error(response)["message"]
    assert client.post("/v1/adapters/nothing/load").status_code == 404
    response = client.get("/v1/nowhere")
    assert response.status_code == 404 and _error(response)["type"] == "not_found"
    response = client.get("/v1/predict")
    assert response.status_code == 405 and _error(response)["type"] == "method_not_allowed"


def test_too_many_inputs_too_long_a_text_or_too_many_tokens_is_413(serve) -> None:
    with serve(max_inputs=3, max_input_chars=20, max_new_tokens=8) as client:
        response = client.post("/v1/predict", json={"adapter": "sentiment", "inputs": ["a"] * 4})
        assert response.status_code == 413 and "4 inputs" in _error(response)["message"]
        response = client.post("/v1/predict", json={"adapter": "sentiment", "inputs": ["ok", "x" * 21]})
        assert response.status_code == 413 and "input 1 has 21 characters" in _error(response)["message"]
        options = {"max_new_tokens": 9}
        response = client.post("/v1/predict", json={"adapter": "poet", "inputs": ["a"], "options": options})
        assert response.status_code == 413 and "at most 8" in _error(response)["message"]
        response = client.post("/v1/completions", json={"model": "poet", "prompt": "a", "max_tokens": 100})
        assert response.status_code == 413
        huge = client.post(
            "/v1/predict",
            content=b'{"adapter": "sentiment", "inputs": ["' + b"x" * 400_000 + b'"]}',
            headers={"content-type": "application/json"},
        )
        assert huge.status_code == 413
        assert client.post("/v1/predict", json={"adapter": "sentiment", "inputs": ["ok"]}).status_code == 200


def test_a_full_queue_is_429_with_retry_after_and_the_rest_complete(serve) -> None:
    with serve(max_queue=2, max_inputs=2, max_batch=1, max_wait_ms=0) as client:
        client.post("/v1/adapters/sentiment/load")
        hub = client.app.state.server.hub
        statuses: list[int] = []
        headers: list[dict] = []

        def call() -> None:
            response = client.post("/v1/predict", json={"adapter": "sentiment", "inputs": ["x"]})
            statuses.append(response.status_code)
            headers.append(dict(response.headers))

        batcher = client.app.state.server.batcher

        def until(condition) -> None:  # polls instead of sleeping a fixed time: robust on a loaded machine
            deadline = time.monotonic() + 30
            while not condition():
                assert time.monotonic() < deadline, "timed out"
                time.sleep(0.01)

        with hub._lock:  # the worker stalls on its first batch: the next two wait, the fourth is refused
            threads = [threading.Thread(target=call) for _ in range(4)]
            threads[0].start()
            until(lambda: batcher._busy == 1)  # taken by the worker, which now waits for the hub
            threads[1].start()
            until(lambda: batcher._waiting == 1)
            threads[2].start()
            until(lambda: batcher._waiting == 2)
            threads[3].start()
            until(lambda: statuses)
            assert statuses == [429]
            assert int(headers[0]["retry-after"]) >= 1
        for thread in threads:
            thread.join()
        assert sorted(statuses) == [200, 200, 200, 429]
        until(lambda: client.get("/health").json()["queue"] == 0)  # the worker clears its batch just after answering


def test_a_draining_server_answers_503_with_retry_after(client: TestClient) -> None:
    client.app.state.server.batcher.close()
    response = client.post("/v1/predict", json={"adapter": "sentiment", "inputs": ["x"]})
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert _error(response)["type"] == "shutting_down"


def test_an_adapter_that_fails_verification_is_409_and_the_rest_keep_serving(serve, registry: Registry) -> None:
    weights = registry.get("topic").path / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    results: dict[str, object] = {}
    with serve(max_wait_ms=300) as client:

        def call(adapter: str) -> None:
            results[adapter] = client.post("/v1/predict", json={"adapter": adapter, "inputs": ["x y"]})

        threads = [threading.Thread(target=call, args=(a,)) for a in ("topic", "sentiment")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert "adapterhub_batch_size_count 1.0" in client.get("/metrics").text  # both were in one batch
        bad, good = results["topic"], results["sentiment"]
        assert bad.status_code == 409 and _error(bad)["type"] == "adapter_corrupt"
        assert "sha256" in _error(bad)["message"]
        assert good.status_code == 200
        assert client.post("/v1/adapters/topic/load").status_code == 409
        other = client.app.state.server.hub.registry.get("poet").path / "adapter_model.safetensors"
        flipped = bytearray(other.read_bytes())
        flipped[-1] ^= 0xFF
        other.write_bytes(bytes(flipped))
        stream = client.post("/v1/completions", json={"model": "poet", "prompt": "x", "max_tokens": 2, "stream": True})
        assert stream.status_code == 409 and _error(stream)["type"] == "adapter_corrupt"
        assert client.post("/v1/predict", json={"adapter": "ner", "inputs": ["x"]}).status_code == 200


def test_only_preloaded_refuses_others_until_loaded(serve) -> None:
    with serve(adapters=("sentiment",), only_preloaded=True) as client:
        assert client.post("/v1/predict", json={"adapter": "sentiment@1", "inputs": ["x"]}).status_code == 200
        response = client.post("/v1/predict", json={"adapter": "ner", "inputs": ["x"]})
        error = _error(response)
        assert response.status_code == 404 and error["type"] == "adapter_not_served"
        assert error["available"] == ["sentiment", "sentiment@1"]
        assert [a["ref"] for a in client.get("/v1/adapters").json()["adapters"]] == ["sentiment@1"]
        assert client.post("/v1/adapters/ner/load").status_code == 200
        assert client.post("/v1/predict", json={"adapter": "ner", "inputs": ["x"]}).status_code == 200
        client.delete("/v1/adapters/ner")
        assert client.post("/v1/predict", json={"adapter": "ner", "inputs": ["x"]}).status_code == 404


def test_api_key_guards_every_route_but_health(serve, monkeypatch) -> None:
    with serve(api_key="s3cret") as client:
        assert client.get("/health").status_code == 200
        for method, path in [
            ("GET", "/v1/adapters"),
            ("GET", "/metrics"),
            ("GET", "/v1/models"),
            ("POST", "/v1/predict"),
            ("POST", "/v1/adapters/sentiment/load"),
            ("DELETE", "/v1/adapters/sentiment"),
            ("POST", "/v1/completions"),
            ("POST", "/v1/chat/completions"),
        ]:
            response = client.request(method, path)
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"] == "Bearer"
            wrong = client.request(method, path, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401, path
        good = {"Authorization": "Bearer s3cret"}
        assert client.get("/v1/adapters", headers=good).status_code == 200
        response = client.post("/v1/predict", json={"adapter": "sentiment", "inputs": ["x"]}, headers=good)
        assert response.status_code == 200
    from adapterhub.serving import ServeConfig

    monkeypatch.setenv("ADAPTERHUB_API_KEY", "from-env")
    assert ServeConfig().with_environment().api_key == "from-env"
    assert ServeConfig(api_key="flag").with_environment().api_key == "flag"


LONG = "the sea is blue and wide " * 30  # cut to the card's max_length: 64 prompt tokens


def test_text_that_is_not_unicode_is_422_naming_it_and_fails_no_other_request(serve) -> None:
    def raw(path: str, body: str):
        return client.post(path, content=body.encode(), headers={"content-type": "application/json"})

    with serve(max_wait_ms=300) as client:
        statuses: list[int] = []

        def innocent(i: int) -> None:
            body = {"adapter": "sentiment", "inputs": [f"a fine day {i}"]}
            statuses.append(client.post("/v1/predict", json=body).status_code)

        threads = [threading.Thread(target=innocent, args=(i,)) for i in range(30)]
        for thread in threads[:15]:
            thread.start()
        bad = raw("/v1/predict", '{"adapter": "sentiment", "inputs": ["ok", "ok", "ok", "\\udc80x"]}')
        for thread in threads[15:]:
            thread.start()
        for thread in threads:
            thread.join()
        error = _error(bad)
        assert bad.status_code == 422 and error["param"] == "inputs[3]" and error["type"] == "invalid_request"
        assert error["message"].startswith("inputs[3] is not well-formed Unicode: a lone surrogate '\\udc80'")
        assert statuses == [200] * 30

        cases = {
            "/v1/completions": [
                ('{"model": "poet", "prompt": "\\ud800 the sea"}', "prompt"),
                ('{"model": "poet", "prompt": ["fine", "\\udfff"], "stream": true}', "prompt[1]"),
            ],
            "/v1/chat/completions": [
                (
                    '{"model": "poet", "messages": [{"role": "system", "content": "\\udc80"}, '
                    '{"role": "user", "content": "hi"}]}',
                    "messages[0].content",
                ),
            ],
        }
        for path, bodies in cases.items():
            for body, param in bodies:
                response = raw(path, body)
                assert response.status_code == 422 and _error(response)["param"] == param, body
        assert client.post("/v1/predict", json={"adapter": "ner", "inputs": ["anna"]}).status_code == 200


def test_a_prompt_past_the_base_context_is_413_before_it_joins_a_batch(serve) -> None:
    with serve(max_wait_ms=300) as client:
        for stream in (False, True):
            response = client.post(
                "/v1/completions", json={"model": "poet", "prompt": "the sea", "max_tokens": 200, "stream": stream}
            )
            error = _error(response)
            assert response.status_code == 413 and error["type"] == "context_length_exceeded"
            assert error["param"] == "prompt"
            assert "+ 200 new tokens" in error["message"] and "the base's context is 128" in error["message"]
        both = {"model": "poet", "prompt": ["the sea", LONG], "max_tokens": 70}
        response = client.post("/v1/completions", json=both)
        assert response.status_code == 413 and _error(response)["param"] == "prompt[1]"
        assert "64 prompt tokens + 70 new tokens = 134 positions" in _error(response)["message"]
        chat = {"model": "poet", "messages": [{"role": "user", "content": LONG}], "max_tokens": 70, "stream": True}
        response = client.post("/v1/chat/completions", json=chat)
        assert response.status_code == 413 and _error(response)["param"] == "messages"
        options = {"max_new_tokens": 200}
        response = client.post("/v1/predict", json={"adapter": "poet", "inputs": ["a", "b"], "options": options})
        assert response.status_code == 413 and _error(response)["param"] == "inputs[0]"

        outcome: dict[str, int] = {}

        def call(name: str, prompt: str) -> None:  # a short and a long prompt arriving in one batch window
            body = {"model": "poet", "prompt": prompt, "max_tokens": 70, "temperature": 0}
            outcome[name] = client.post("/v1/completions", json=body).status_code

        threads = [threading.Thread(target=call, args=args) for args in (("short", "the sea"), ("long", LONG))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert outcome == {"short": 200, "long": 413}


def test_a_tiny_temperature_samples_greedily_instead_of_failing(client: TestClient) -> None:
    base = {"model": "poet", "prompt": "the sea", "max_tokens": 8}
    greedy = client.post("/v1/completions", json={**base, "temperature": 0}).json()["choices"][0]["text"]
    for temperature in (1e-300, 1e-30):
        response = client.post("/v1/completions", json={**base, "temperature": temperature, "seed": 1})
        assert response.status_code == 200 and response.json()["choices"][0]["text"] == greedy
    options = {"max_new_tokens": 8, "temperature": 5e-324}
    response = client.post("/v1/predict", json={"adapter": "poet", "inputs": ["the sea"], "options": options})
    assert response.status_code == 200 and response.json()["results"][0]["text"] == greedy


def test_load_rehashes_the_files_and_stops_serving_a_copy_that_no_longer_matches(client: TestClient, registry) -> None:
    assert client.post("/v1/adapters/sentiment/load").status_code == 200
    assert client.post("/v1/predict", json={"adapter": "sentiment", "inputs": ["x"]}).status_code == 200
    weights = registry.get("sentiment").path / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    response = client.post("/v1/adapters/sentiment/load")
    error = _error(response)
    assert response.status_code == 409 and error["type"] == "adapter_corrupt"
    assert "does not match the sha256" in error["message"] and "no longer served" in error["message"]
    assert "sentiment@1" not in client.app.state.server.hub.loaded
    response = client.post("/v1/predict", json={"adapter": "sentiment", "inputs": ["x"]})
    assert response.status_code == 409 and _error(response)["type"] == "adapter_corrupt"
    assert client.post("/v1/predict", json={"adapter": "ner", "inputs": ["x"]}).status_code == 200


def test_every_spelling_of_a_reference_is_one_entry(serve) -> None:
    with serve(adapters=("sentiment",), only_preloaded=True) as client:
        state = client.app.state.server
        for round_ in range(180):
            spec = f"sentiment@{'0' * (round_ % 9)}1"  # the 9 spellings of version 1, the longest 9 digits
            if round_ % 20 == 0:
                assert client.post("/v1/predict", json={"adapter": spec, "inputs": ["x"]}).status_code == 200
            assert client.post(f"/v1/adapters/{spec}/load").status_code == 200
        for zeros in range(9, 209):  # longer ones are not versions
            assert client.post(f"/v1/adapters/sentiment@{'0' * zeros}1/load").status_code == 422
        assert state.allowed == {"sentiment", "sentiment@1"}
        assert state.hub._pinned == {"sentiment": "sentiment@1", "sentiment@1": "sentiment@1"}


def test_a_stream_meeting_a_full_queue_gets_429_not_a_200(serve) -> None:
    with serve(max_queue=1, max_inputs=1, max_batch=1, max_wait_ms=0) as client:
        client.post("/v1/adapters/poet/load")
        hub, batcher = client.app.state.server.hub, client.app.state.server.batcher
        body = {"model": "poet", "prompt": "the sea", "max_tokens": 2, "stream": True}
        statuses: list[int] = []

        def call() -> None:
            statuses.append(client.post("/v1/completions", json=body).status_code)

        def until(condition) -> None:
            deadline = time.monotonic() + 30
            while not condition():
                assert time.monotonic() < deadline, "timed out"
                time.sleep(0.01)

        with hub._lock:  # the worker stalls on the first request; the second waits; the queue is full
            threads = [threading.Thread(target=call) for _ in range(2)]
            threads[0].start()
            until(lambda: batcher._busy == 1)
            threads[1].start()
            until(lambda: batcher._waiting == 1)
            response = client.post("/v1/completions", json=body)
            assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1
            assert _error(response)["type"] == "overloaded"
        for thread in threads:
            thread.join()
        assert statuses == [200, 200]


def test_a_seed_out_of_range_is_422_naming_the_field_and_the_range(client: TestClient) -> None:
    chat = [{"role": "user", "content": "x"}]
    for path, body, param in (
        ("/v1/predict", {"adapter": "poet", "inputs": ["x"], "options": {"seed": 10**30}}, "options.seed"),
        ("/v1/completions", {"model": "poet", "prompt": "x", "max_tokens": 2, "seed": 10**30}, "seed"),
        ("/v1/chat/completions", {"model": "poet", "messages": chat, "max_tokens": 2, "seed": -(10**30)}, "seed"),
        ("/v1/predict", {"adapter": "poet", "inputs": ["x"], "options": {"seed": True}}, "options.seed"),
    ):
        response = client.post(path, json=body)
        assert response.status_code == 422, (path, response.text)
        assert _error(response)["param"] == param
    response = client.post("/v1/completions", json={"model": "poet", "prompt": "x", "max_tokens": 2, "seed": 10**30})
    assert "seed: a seed is an integer from -9007199254740991 to 9007199254740991" in _error(response)["message"]
    for seed in (2**53 - 1, -(2**53 - 1), 0):  # the ends of the range are seeds
        body = {"model": "poet", "prompt": "x", "max_tokens": 2, "temperature": 1, "seed": seed}
        assert client.post("/v1/completions", json=body).status_code == 200


def test_an_unexpected_error_is_a_500_with_an_id_only_and_is_not_raised_further(client: TestClient, caplog) -> None:
    """The exception's text stays in the log, found by the id the body carries; the app answers and returns
    normally (this TestClient re-raises whatever the app raises, as uvicorn would then drop the connection)."""

    def broken() -> None:
        raise RuntimeError("secret detail at /srv/private/thing")

    client.app.add_api_route("/v1/broken", broken)
    with caplog.at_level(logging.ERROR, logger="adapterhub.serving"):
        response = client.get("/v1/broken")
    assert response.status_code == 500 and response.headers["content-type"] == "application/json"
    error = _error(response)
    assert error["type"] == "internal_error" and "secret" not in response.text and "/srv" not in response.text
    assert error["id"] and error["id"] in error["message"]
    logged = [r for r in caplog.records if error["id"] in r.getMessage()]
    assert logged and "secret detail" in str(logged[0].exc_info[1])
    assert client.get("/health").status_code == 200


def test_bodies_the_server_cannot_read_are_json_errors(serve) -> None:
    json_type = {"content-type": "application/json"}
    with serve(max_inputs=2, max_input_chars=100) as client:  # a body limit of 2 * (4 * 100 + 16) + 65536 bytes
        body = b'{"adapter": "sentiment", "inputs": ["' + b"x" * 70_000 + b'"]}'
        for content in (body, iter([body[:100], body[100:]])):  # with a Content-Length, then chunked
            response = client.post("/v1/predict", content=content, headers=json_type)
            assert response.status_code == 413 and response.headers["content-type"] == "application/json"
            assert _error(response)["type"] == "too_large" and "larger than this server takes" in response.text

        not_utf8 = b'{"adapter": "sentiment", "inputs": ["\xff"]}'
        response = client.post("/v1/predict", content=not_utf8, headers=json_type)
        assert response.status_code == 422 and "not UTF-8" in _error(response)["message"]
        response = client.post("/v1/predict", content=b"[" * 1000 + b"]" * 1000, headers=json_type)
        assert response.status_code == 422 and "nested too deeply" in _error(response)["message"]

        for method, path, allowed in (("GET", "/v1/predict", "POST"), ("POST", "/health", "GET")):
            response = client.request(method, path)
            assert response.status_code == 405 and response.headers["allow"] == allowed
            assert _error(response)["type"] == "method_not_allowed"
        assert client.post("/v1/predict", json={"adapter": "sentiment", "inputs": ["ok"]}).status_code == 200


def test_the_schema_declares_auth_only_with_a_key_and_states_the_rules_the_server_enforces(serve) -> None:
    from adapterhub.names import REF_PATTERN

    with serve(max_inputs=3, max_input_chars=50, max_new_tokens=9) as client:
        schema = client.get("/openapi.json").json()
        assert "securitySchemes" not in schema.get("components", {})
        assert not [op for path in schema["paths"].values() for op in path.values() if op.get("security")]
        models = schema["components"]["schemas"]
        adapter = models["PredictRequest"]["properties"]["adapter"]["anyOf"]
        assert adapter[0]["pattern"] == REF_PATTERN and adapter[1]["items"]["pattern"] == REF_PATTERN
        assert models["ChatRequest"]["properties"]["model"]["pattern"] == REF_PATTERN
        load = schema["paths"]["/v1/adapters/{name}/load"]["post"]["parameters"][0]
        assert load["schema"]["pattern"] == REF_PATTERN
        messages = models["ChatRequest"]["properties"]["messages"]
        assert messages["x-last-message-role"] == "user"
        assert "the last message must have role `user`" in messages["description"]
        inputs = models["PredictRequest"]["properties"]["inputs"]
        assert inputs["maxItems"] == 3 and inputs["items"]["maxLength"] == 50
        assert models["Options"]["properties"]["max_new_tokens"]["anyOf"][0]["maximum"] == 9
        assert "413" in schema["paths"]["/v1/predict"]["post"]["responses"]
        assert "415" in schema["paths"]["/v1/predict"]["post"]["responses"]
    with serve(api_key="s3cret") as client:
        schema = client.get("/openapi.json").json()
        assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
        secured = {p for p, ops in schema["paths"].items() for op in ops.values() if op.get("security")}
        assert secured == set(schema["paths"]) - {"/health"}
