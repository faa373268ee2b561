"""What every request passes before its body is read: its Host, the API key, its Origin and its media type."""

from __future__ import annotations

from fastapi.testclient import TestClient

PREDICT = {"adapter": "sentiment", "inputs": ["a fine day"]}


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == response.status_code, body
    return body["error"]


def test_a_loopback_server_answers_only_to_loopback_names_and_allowed_hosts(serve) -> None:
    """A page whose name an attacker points at 127.0.0.1 (DNS rebinding) sends its own name as the Host."""
    with serve() as client:
        for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST", "localhost."):
            assert client.get("/v1/adapters", headers={"host": host}).status_code == 200, host
        for host in ("evil.example:8000", "127.0.0.1.evil.example", "localhost.evil.example:8000"):
            response = client.post("/v1/predict", json=PREDICT, headers={"host": host})
            assert response.status_code == 400, host
            error = _error(response)
            assert error["type"] == "invalid_host" and "--allowed-host" in error["message"]
    with serve(allowed_hosts=("api.example.com",)) as client:
        assert client.get("/v1/adapters", headers={"host": "api.example.com:443"}).status_code == 200
        assert client.get("/v1/adapters", headers={"host": "evil.example"}).status_code == 400
    with serve(host="0.0.0.0") as client:  # bound to every interface: any name may reach it
        assert client.get("/v1/adapters", headers={"host": "10.1.2.3:8000"}).status_code == 200


def test_cross_origin_changes_and_bodies_that_are_not_json_are_refused(client: TestClient) -> None:
    """A browser sends a cross-origin text/plain POST without asking first; it always says where it came from."""
    response = client.post(
        "/v1/predict", content=b'{"adapter": "sentiment", "inputs": ["x"]}', headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415 and _error(response)["type"] == "unsupported_media_type"
    assert "application/json" in _error(response)["message"]

    evil = {"origin": "http://evil.example"}
    for method, path, body in (
        ("POST", "/v1/predict", PREDICT),
        ("POST", "/v1/adapters/sentiment/load", None),
        ("DELETE", "/v1/adapters/sentiment", None),
        ("POST", "/v1/completions", {"model": "poet", "prompt": "x", "max_tokens": 2}),
    ):
        response = client.request(method, path, json=body, headers=evil)
        assert response.status_code == 403, path
        assert _error(response)["type"] == "cross_origin"
    assert client.get("/health").json()["hot"] == 0  # nothing was loaded
    assert client.post("/v1/predict", json=PREDICT, headers={"origin": "null"}).status_code == 403

    # the server's own pages (its /docs) and clients that send no Origin change state as before
    assert client.post("/v1/predict", json=PREDICT, headers={"origin": "http://127.0.0.1:8000"}).status_code == 200
    assert client.post("/v1/adapters/topic/load").status_code == 200  # no body: no media type needed
    assert client.get("/v1/adapters", headers=evil).status_code == 200  # a read changes nothing


def test_the_key_is_checked_before_any_body_is_read(serve) -> None:
    malformed = {"content": b'{"adapter": "sentiment", "inputs": [', "headers": {"content-type": "application/json"}}
    with serve(api_key="s3cret", max_inputs=1, max_input_chars=10) as client:
        response = client.post("/v1/predict", **malformed)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        huge = client.post("/v1/predict", content=b"x" * 200_000, headers={"content-type": "application/json"})
        assert huge.status_code == 401
        assert client.post("/v1/predict", content=b"x", headers={"content-type": "text/plain"}).status_code == 401
        for path in ("/health", "/openapi.json", "/docs"):
            assert client.get(path).status_code == 200, path
        key = {"authorization": "Bearer s3cret"}
        response = client.post("/v1/predict", content=malformed["content"], headers={**malformed["headers"], **key})
        assert response.status_code == 422
        assert client.post("/v1/predict", json=PREDICT, headers={"authorization": "bearer s3cret"}).status_code == 200
        assert client.post("/v1/predict", json=PREDICT, headers={"authorization": "Basic s3cret"}).status_code == 401
