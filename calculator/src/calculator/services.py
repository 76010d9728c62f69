"""The five services: four operators and the front end that calls them."""

from __future__ import annotations

import asyncio
import itertools
import json
import operator
import re
from collections import deque
from collections.abc import Awaitable, Callable
from fractions import Fraction

from .config import SYMBOLS, Config
from .expr import ExpressionError, Number, Operation, parse, position_of
from .httpcore import (
    Connection,
    Pending,
    Request,
    Response,
    ServerLimits,
    UpstreamError,
    UpstreamPool,
    UpstreamResponse,
    text_response,
)
from .rational import (
    NumberError,
    TooLarge,
    format_number,
    is_canonical_text,
    parse_operand,
    shorten,
)

JSON_TYPE = "application/json"
# Deepest nesting of arrays and objects in a JSON body (the documents of this interface
# need 2): checked before parsing, as Python's parser recurses once per level.
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_NESTING = {"[": 1, "{": 1, "]": -1, "}": -1}
Answer = Response | Pending | Awaitable[Response]
Value = int | Fraction


def _divide(left: Value, right: Value) -> Value:
    return Fraction(left) / right  # exact: never a binary float


_ARITHMETIC: dict[str, Callable[[Value, Value], Value]] = {
    "sum": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": _divide,
}


class ServiceError(Exception):
    """A request that gets an error answer; ``position`` is 1-based in the expression."""

    def __init__(self, status: int, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.position = position


def limits_of(config: Config) -> ServerLimits:
    return ServerLimits(config.max_body, config.read_timeout, config.idle_timeout)


def number_json(text: str) -> dict[str, object]:
    """JSON members for a canonical number text (parsing only, no arithmetic)."""
    numerator, _, denominator = text.partition("/")
    result: object = int(text) if not denominator else text
    return {"result": result, "numerator": int(numerator), "denominator": int(denominator or 1)}


def json_response(status: int, payload: dict[str, object]) -> Response:
    return Response(status, json.dumps(payload).encode() + b"\n", JSON_TYPE)


def error_response(
    request: Request,
    error: ServiceError,
    extra: str = "",
    headers: list[tuple[str, str]] | None = None,
) -> Response:
    headers = headers or []
    if request.wants_json():
        payload: dict[str, object] = {"error": error.message, "status": error.status}
        if error.position is not None:
            payload["position"] = error.position
        response = json_response(error.status, payload)
        response.headers = headers
        return response
    text = f"error: {error.message}"
    if error.position is not None:
        text += f" at position {error.position}"
    return text_response(error.status, f"{text}\n{extra}", headers)


def json_too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays and objects nest deeper than ``limit`` in ``text`` (strings skipped);
    linear, at C speed."""
    if text.count("[") + text.count("{") <= limit:
        return False
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(itertools.accumulate(map(_NESTING.__getitem__, brackets)), default=0) > limit


def request_text(request: Request, field: str) -> str:
    """The request's input: the body as UTF-8 text, or ``field`` of a JSON object body."""
    body = request.body
    if not body.strip():
        raise ServiceError(400, "empty request body")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ServiceError(400, f"request body is not valid UTF-8 (byte {exc.start})") from exc
    if request.header("content-type").lower().startswith(JSON_TYPE):
        if json_too_deep(text):
            raise ServiceError(400, f"JSON body nested deeper than {MAX_JSON_DEPTH} levels")
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise ServiceError(400, f"invalid JSON body: {exc}") from exc
        value = document.get(field) if isinstance(document, dict) else None
        if (
            field == "operands"
            and isinstance(value, list)
            and len(value) == 2
            and all(isinstance(item, str | int) and not isinstance(item, bool) for item in value)
        ):
            return f"{value[0]} {value[1]}"
        if field == "expression" and isinstance(value, str):
            return value
        kind = "a list of two numbers" if field == "operands" else "a string"
        raise ServiceError(400, f"JSON body must be an object whose {field!r} is {kind}")
    return text


def route(request: Request, on_post: Callable[[Request], Answer]) -> Answer:
    """Dispatch ``POST /`` and ``GET /healthz``; everything else gets 404/405."""
    path = request.path
    if path == "/":
        if request.method == "POST":
            return on_post(request)
        error = ServiceError(405, f"method {shorten(request.method, 16)} not allowed, use POST")
        return error_response(request, error, headers=[("Allow", "POST")])
    if path == "/healthz":
        if request.method == "GET":
            return text_response(200, "ok\n")
        error = ServiceError(405, f"method {shorten(request.method, 16)} not allowed, use GET")
        return error_response(request, error, headers=[("Allow", "GET")])
    return error_response(request, ServiceError(404, f"no such path {shorten(path)!r}"))


# -- operators --------------------------------------------------------------------------------


def operator_handler(config: Config) -> Callable[[Request], Answer]:
    """Handler of an operator role: ``POST /`` with ``"A B"`` answers ``A op B``."""
    role = config.role
    function = _ARITHMETIC[role]
    max_digits = config.max_digits

    def compute(request: Request) -> Response:
        try:
            words = request_text(request, "operands").split()
            if len(words) != 2:
                raise ServiceError(
                    400, f"expected two numbers separated by whitespace, got {len(words)} items"
                )
            try:
                left = parse_operand(words[0], max_digits)
                right = parse_operand(words[1], max_digits)
            except NumberError as exc:
                raise ServiceError(400, str(exc)) from exc
            if role == "div" and right == 0:
                raise ServiceError(422, "division by zero")
            try:
                text = format_number(function(left, right), max_digits)
            except TooLarge as exc:
                raise ServiceError(422, str(exc)) from exc
        except ServiceError as exc:
            return error_response(request, exc)
        if request.wants_json():
            payload: dict[str, object] = {"operation": role, "operands": words}
            payload.update(number_json(text))
            return json_response(200, payload)
        return text_response(200, text)

    async def delayed(request: Request) -> Response:
        await asyncio.sleep(config.delay)
        return compute(request)

    post = delayed if config.delay > 0 else compute
    return lambda request: route(request, post)


# -- front end -------------------------------------------------------------------------------


class FrontEnd:
    """Parses expressions and evaluates them by calling the operator services.

    Operator calls are admitted fairly: at most ``max_calls`` are in flight in all and
    ``max_calls_per_connection`` for the requests of one client connection. A call beyond
    that waits in its connection's queue; connections with waiting calls take turns (one
    call each per turn) as calls complete, so a client with a lot of work cannot delay the
    others by more than one call per connection. When a client leaves, its waiting calls are
    dropped and its expressions abandoned (the calls in flight are let finish and ignored).
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.pools = {
            SYMBOLS[role]: UpstreamPool(role, url, config.timeout)
            for role, url in config.urls.items()
        }
        self.loop = asyncio.get_running_loop()
        # Expressions under way, whose deadlines one periodic timer checks.
        self.active: set[_Evaluation] = set()
        self.sweeper: asyncio.TimerHandle | None = None
        self.tick = max(0.005, min(0.1, config.expression_timeout / 20))
        # Admission of operator calls.
        self.clients: dict[Connection, _Client] = {}
        self.calls = 0  # in flight
        self.max_calls = config.max_calls
        self.max_per_client = config.max_calls_per_connection
        self.turns: deque[_Client] = deque()  # clients with waiting calls, under their share

    def client_of(self, request: Request) -> _Client:
        connection = request.connection
        if connection is None:  # a request not from a connection: on its own
            return _Client(self, None)
        client = self.clients.get(connection)
        if client is None:
            client = self.clients[connection] = _Client(self, connection)
            connection.on_eof = client.ended
            connection.on_gone = client.left
        return client

    def submit(self, frame: _Frame) -> None:
        """Call the operator for ``frame`` now, or when its connection's turn comes."""
        client = frame.evaluation.client
        assert client is not None
        if client.calls < self.max_per_client:
            if self.calls < self.max_calls and not client.queue:
                self._send(frame, client)
                return
            if not client.waiting:
                client.waiting = True
                self.turns.append(client)
        client.queue.append(frame)
        if self.calls < self.max_calls:
            self._pump()

    def _send(self, frame: _Frame, client: _Client) -> None:
        self.calls += 1
        client.calls += 1
        pool = self.pools[frame.node.op]
        pool.request(f"{frame.left} {frame.right}".encode(), frame.answered)

    def release(self, client: _Client) -> None:
        """A call of ``client`` has completed: its slot goes to the next one in turn."""
        self.calls -= 1
        client.calls -= 1
        if client.queue and not client.waiting:
            client.waiting = True
            self.turns.append(client)
        if self.turns:
            self._pump()

    def _pump(self) -> None:
        """Give free slots to the clients in turn, one call each per turn."""
        turns = self.turns
        while turns and self.calls < self.max_calls:
            client = turns.popleft()
            client.waiting = False
            queue = client.queue
            while queue and queue[0].evaluation.done:
                queue.popleft()  # its expression has failed or timed out meanwhile
            if queue:
                self._send(queue.popleft(), client)
                if queue and client.calls < self.max_per_client:
                    client.waiting = True
                    turns.append(client)

    def track(self, evaluation: _Evaluation) -> None:
        self.active.add(evaluation)
        if self.sweeper is None:
            self.sweeper = self.loop.call_at(self.loop.time() + self.tick, self._sweep)

    def _sweep(self) -> None:
        self.sweeper = None
        now = self.loop.time()
        for evaluation in [e for e in self.active if e.deadline <= now]:
            evaluation.expire()
        if self.active:
            self.sweeper = self.loop.call_at(now + self.tick, self._sweep)

    def handler(self, request: Request) -> Answer:
        return route(request, self.answer)

    def close(self) -> None:
        for pool in self.pools.values():
            pool.close()
        if self.sweeper is not None:
            self.sweeper.cancel()
            self.sweeper = None

    def answer(self, request: Request) -> Response | Pending:
        body = request.body
        signs = body.count(b"+") + body.count(b"-") + body.count(b"*") + body.count(b"/")
        if signs <= self.max_per_client or request.connection is None:
            return self.evaluate(request)
        # More operations than a connection's share of calls, perhaps: evaluated one turn
        # of the event loop later, after the events already received (such as the client
        # hanging up right after sending it) have been handled.
        client = self.client_of(request)
        client.deferred += 1
        pending = Pending()
        self.loop.call_later(0, self._deferred, request, client, pending, False)
        return pending

    def _deferred(self, request: Request, client: _Client, pending: Pending, checked: bool) -> None:
        if client.gone:
            return
        connection = client.connection
        if connection is not None and connection.eof and not checked:
            connection.check()  # is the client still there? (drops the connection if not)
            self.loop.call_later(0, self._deferred, request, client, pending, True)
            return
        client.deferred -= 1
        answer = self.evaluate(request)
        if isinstance(answer, Pending):
            answer.then(pending.set)
        else:
            pending.set(answer)

    def evaluate(self, request: Request) -> Response | Pending:
        text = ""
        try:
            text = request_text(request, "expression")
            config = self.config
            try:
                tree = parse(
                    text,
                    max_depth=config.max_depth,
                    max_operations=config.max_operations,
                    max_digits=config.max_digits,
                )
            except ExpressionError as exc:
                raise ServiceError(400, exc.message, exc.position) from exc
        except ServiceError as exc:
            return error_response(request, exc, _pointer(text, exc.position))
        evaluation = _Evaluation(self, request, text)
        if isinstance(tree, Number):
            evaluation.succeed(tree.text)
        else:
            evaluation.start(tree)
        return evaluation.pending


class _Client:
    """The front end's view of one client connection: its operator calls in flight, those
    waiting for a slot, and its expressions under way."""

    __slots__ = (
        "calls",
        "connection",
        "deferred",
        "evaluations",
        "front",
        "gone",
        "outstanding",
        "queue",
        "waiting",
    )

    def __init__(self, front: FrontEnd, connection: Connection | None) -> None:
        self.front = front
        self.connection = connection
        self.calls = 0
        self.queue: deque[_Frame] = deque()
        self.waiting = False  # in front.turns
        self.evaluations: set[_Evaluation] = set()
        self.outstanding = 0  # operations not computed yet, in all its expressions
        self.deferred = 0  # large requests not parsed yet
        self.gone = False

    def ended(self) -> None:
        """The client sent EOF (half-closed, or left). Work that fits in its share of
        calls is finished without asking; for more, the connection checks whether the
        client is still there to read the answer (and drops it if not)."""
        connection = self.connection
        if connection is not None and (
            self.deferred or self.outstanding > self.front.max_per_client
        ):
            connection.check()

    def left(self) -> None:
        """The connection is closed: nothing can be answered any more."""
        self.gone = True
        if self.connection is not None:
            self.front.clients.pop(self.connection, None)
        self.queue.clear()
        for evaluation in list(self.evaluations):
            evaluation.abandon()


class _Frame:
    """One operation under evaluation: operand values so far, and where its value goes."""

    __slots__ = ("evaluation", "is_left", "left", "missing", "node", "parent", "right")

    def __init__(
        self, node: Operation, parent: _Frame | None, is_left: bool, evaluation: _Evaluation
    ) -> None:
        self.node = node
        self.parent = parent
        self.is_left = is_left
        self.evaluation = evaluation
        left, right = node.left, node.right
        self.left = left.text if isinstance(left, Number) else ""
        self.right = right.text if isinstance(right, Number) else ""
        self.missing = (not self.left) + (not self.right)

    def answered(self, result: UpstreamResponse | UpstreamError) -> None:
        self.evaluation.answered(self, result)


class _Evaluation:
    """Evaluation of one expression tree by operator calls, driven by callbacks.

    Every operation whose operands are known is sent at once, so independent
    sub-expressions are computed concurrently; an operation is sent as soon as both of its
    operands have arrived. Nothing here is recursive: the depth of a tree costs no stack.
    """

    __slots__ = ("client", "deadline", "done", "front", "left", "pending", "request", "text")

    def __init__(self, front: FrontEnd, request: Request, text: str) -> None:
        self.front = front
        self.request = request
        self.text = text
        self.pending = Pending()
        self.deadline = 0.0
        self.done = False
        self.client: _Client | None = None
        self.left = 0  # operations not computed yet

    def start(self, tree: Operation) -> None:
        front = self.front
        self.deadline = front.loop.time() + front.config.expression_timeout
        front.track(self)
        ready: list[_Frame] = []
        stack: list[tuple[Operation, _Frame | None, bool]] = [(tree, None, False)]
        while stack:
            node, parent, is_left = stack.pop()
            frame = _Frame(node, parent, is_left, self)
            self.left += 1
            if not frame.missing:
                ready.append(frame)
                continue
            if isinstance(node.right, Operation):
                stack.append((node.right, frame, False))
            if isinstance(node.left, Operation):
                stack.append((node.left, frame, True))
        self.client = client = front.client_of(self.request)
        client.evaluations.add(self)
        client.outstanding += self.left
        for frame in ready:
            front.submit(frame)
        connection = client.connection
        if connection is not None and connection.eof:
            client.ended()  # a pipelined request read after the client's EOF

    def answered(self, frame: _Frame, result: UpstreamResponse | UpstreamError) -> None:
        client = self.client
        assert client is not None
        front = self.front
        front.release(client)
        if self.done:
            return
        self.left -= 1
        client.outstanding -= 1
        try:
            value = self._value(frame, result)
        except ServiceError as exc:
            self.fail(exc)
            return
        parent = frame.parent
        if parent is None:
            self.succeed(value)
            return
        if frame.is_left:
            parent.left = value
        else:
            parent.right = value
        parent.missing -= 1
        if not parent.missing:
            front.submit(parent)

    def _value(self, frame: _Frame, result: UpstreamResponse | UpstreamError) -> str:
        node = frame.node
        if isinstance(result, UpstreamError):
            raise ServiceError(result.status, f"{result.message} ({_where(frame)})")
        max_digits = self.front.config.max_digits
        if result.status == 200:
            text = result.body.decode("ascii", errors="replace")
            if is_canonical_text(text, max_digits):
                return text
            text = text.strip()
            if is_canonical_text(text, max_digits):
                return text
            pool = self.front.pools[node.op]
            raise ServiceError(
                502,
                f"{pool.name} service at {pool.url} answered {shorten(text)!r}, "
                f"not a number ({_where(frame)})",
            )
        text = result.body.decode("utf-8", errors="replace").strip()
        message = text.splitlines()[0] if text else ""
        message = shorten(message.removeprefix("error: "), 200)
        if result.status == 422:
            position = position_of(self.text, node.token)
            raise ServiceError(422, f"{message} ({_where(frame)})", position)
        pool = self.front.pools[node.op]
        raise ServiceError(
            502,
            f"{pool.name} service at {pool.url} answered HTTP {result.status}: {message!r} "
            f"({_where(frame)})",
        )

    def expire(self) -> None:
        timeout = self.front.config.expression_timeout
        self.fail(ServiceError(504, f"expression not evaluated within {timeout:g} s"))

    def _end(self) -> None:
        self.done = True
        self.front.active.discard(self)
        client = self.client
        if client is not None:
            client.evaluations.discard(self)
            client.outstanding -= self.left
            self.left = 0

    def _finish(self, response: Response) -> None:
        self._end()
        self.pending.set(response)

    def abandon(self) -> None:
        """The client has left: no more calls, and no answer."""
        if not self.done:
            self._end()

    def succeed(self, value: str) -> None:
        if self.done:
            return
        if self.request.wants_json():
            payload: dict[str, object] = {"expression": self.text.strip()}
            payload.update(number_json(value))
            self._finish(json_response(200, payload))
        else:
            self._finish(text_response(200, f"result = {value}"))

    def fail(self, error: ServiceError) -> None:
        if not self.done:
            self._finish(error_response(self.request, error, _pointer(self.text, error.position)))


def _where(frame: _Frame) -> str:
    return f"computing {shorten(frame.left, 24)} {frame.node.op} {shorten(frame.right, 24)}"


def _pointer(text: str, position: int | None) -> str:
    """The expression with a caret under ``position``, for short one-line expressions."""
    if position is None or not text or len(text) > 120 or not text.isprintable():
        return ""
    return f"{text}\n{' ' * (position - 1)}^\n"
