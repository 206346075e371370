"""A fake Telegram Bot API server on 127.0.0.1, and chat helpers that read like a transcript.

Only the HTTP edge is fake: the real ``python-telegram-bot`` Application talks to this server through
``base_url``. The server implements the methods the bot uses and checks what real Telegram checks: the bot
token in the path, HTML entities that parse with only Telegram's tags, 4096 characters of text after
parsing, 64 bytes of callback data, and "message is not modified" on identical edits.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web
from telegram.constants import InlineKeyboardButtonLimit, InlineQueryLimit, MessageLimit

TOKEN = "123456789:AAH-fake-token-for-tests-only_0123456789"
BOT = {
    "id": 123456789,
    "is_bot": True,
    "first_name": "Newsbot",
    "username": "newsbot_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": True,
    "supports_inline_queries": True,
}
_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
}
_BARE_AMP = re.compile(r"&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)")


class TelegramError(Exception):
    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


class _Entities(HTMLParser):
    """Parses Telegram HTML the strict way Telegram does; collects the plain text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in _TAGS:
            raise TelegramError(400, f'Bad Request: can\'t parse entities: Unsupported start tag "{tag}"')
        if tag == "a" and not dict(attrs).get("href"):
            raise TelegramError(400, "Bad Request: can't parse entities: a tag without href")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise TelegramError(400, f'Bad Request: can\'t parse entities: Unmatched end tag "{tag}"')
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(text: str) -> str:
    """The plain text Telegram would show, or TelegramError for what Telegram would refuse."""
    if _BARE_AMP.search(text):
        raise TelegramError(400, "Bad Request: can't parse entities: bare '&' is not an entity")
    parser = _Entities()
    parser.feed(text)
    parser.close()
    if parser.stack:
        raise TelegramError(400, f"Bad Request: can't parse entities: unclosed <{parser.stack[-1]}>")
    return "".join(parser.text)


def _length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Sent:
    """A message the bot sent or edited, as the fake server stored it."""

    method: str
    chat_id: int
    message_id: int
    html: str
    text: str
    params: dict[str, Any]

    @property
    def buttons(self) -> list[dict[str, Any]]:
        markup = self.params.get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]

    @property
    def reply_to(self) -> int | None:
        reply = self.params.get("reply_parameters") or {}
        return reply.get("message_id") or self.params.get("reply_to_message_id")


@dataclass
class FakeTelegram:
    """The server's state: queued updates, what the bot sent, and knobs for failures."""

    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    blocked_chats: set[int] = field(default_factory=set)
    chat_admins: dict[int, set[int]] = field(default_factory=dict)
    # Methods answered with an error, as Telegram answers some: {"getChatMember": (400, "Bad Request: ...")}.
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    cursors: dict[int, int] = field(default_factory=dict)  # per chat: how many sent messages were read
    # Methods answered "429 Too Many Requests" (retry after 1 s) this many more times: Telegram's flood control.
    flooded: dict[str, int] = field(default_factory=dict)
    base_url: str = ""
    base_file_url: str = ""
    _update_ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _message_ids: itertools.count = field(default_factory=lambda: itertools.count(1000))
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _messages: dict[tuple[int, int], Sent] = field(default_factory=dict)

    def push(self, kind: str, payload: dict[str, Any]) -> None:
        self.updates.append({"update_id": next(self._update_ids), kind: payload})
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def new_message_id(self) -> int:
        return next(self._message_ids)

    async def wait_for_change(self, seconds: float) -> None:
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)

    async def get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while True:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            if self.updates or time.monotonic() >= deadline:
                return self.updates[: int(params.get("limit") or 100)]
            await self.wait_for_change(min(0.5, max(0.0, deadline - time.monotonic())))

    def _check_markup(self, params: dict[str, Any]) -> None:
        markup = params.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= InlineKeyboardButtonLimit.MAX_CALLBACK_DATA:
                    raise TelegramError(400, "Bad Request: BUTTON_DATA_INVALID")

    def _render(self, params: dict[str, Any], key: str = "text") -> tuple[str, str]:
        raw = str(params.get(key, ""))
        text = parse_html(raw) if params.get("parse_mode") == "HTML" else raw
        if not text.strip():
            raise TelegramError(400, "Bad Request: message text is empty")
        if _length(text) > MessageLimit.MAX_TEXT_LENGTH:
            raise TelegramError(400, "Bad Request: message is too long")
        return raw, text

    def call(self, method: str, params: dict[str, Any]) -> Any:
        self.calls.append((method, params))
        chat_id = params.get("chat_id")
        if chat_id is not None and int(chat_id) in self.blocked_chats:
            raise TelegramError(403, "Forbidden: bot was kicked from the group chat")
        if method in self.refused:
            raise TelegramError(*self.refused[method])
        if self.flooded.get(method):
            self.flooded[method] -= 1
            raise TelegramError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
        if method == "getMe":
            return BOT
        if method in ("setWebhook", "sendChatAction"):
            self._notify()  # a bot process in webhook mode is up, or typing: the tests wait for either
            return True
        if method in (
            "deleteWebhook",
            "setMyCommands",
            "answerCallbackQuery",
            "deleteMyCommands",
            "close",
            "logOut",
        ):
            return True
        if method == "answerInlineQuery":
            results = params.get("results") or []
            if len(results) > InlineQueryLimit.RESULTS:
                raise TelegramError(400, "Bad Request: RESULTS_TOO_MUCH")
            for result in results:
                content = result.get("input_message_content") or {}
                self._render({"text": content.get("message_text"), "parse_mode": content.get("parse_mode")})
            self._notify()
            return True
        if method == "sendMessage":
            self._check_markup(params)
            html, text = self._render(params)
            sent = Sent(method, int(chat_id), self.new_message_id(), html, text, params)
            self.sent.append(sent)
            self._messages[(sent.chat_id, sent.message_id)] = sent
            self._notify()
            return self.message_json(sent)
        if method == "editMessageText":
            self._check_markup(params)
            html, text = self._render(params)
            key = (int(chat_id), int(params["message_id"]))
            previous = self._messages.get(key)
            if previous is None:
                raise TelegramError(400, "Bad Request: message to edit not found")
            if previous.html == html and previous.params.get("reply_markup") == params.get("reply_markup"):
                raise TelegramError(400, "Bad Request: message is not modified")
            sent = Sent(method, key[0], key[1], html, text, params)
            self._messages[key] = sent
            self.sent.append(sent)
            self._notify()
            return self.message_json(sent)
        if method == "getFile":
            file_id = params["file_id"]
            if file_id not in self.files:
                raise TelegramError(400, "Bad Request: invalid file_id")
            return {
                "file_id": file_id,
                "file_unique_id": file_id,
                "file_size": len(self.files[file_id]),
                "file_path": f"documents/{file_id}",
            }
        if method == "getChatMember":
            user_id = int(params["user_id"])
            admin = user_id in self.chat_admins.get(int(chat_id), set())
            return {
                "status": "administrator" if admin else "member",
                "user": {"id": user_id, "is_bot": False, "first_name": "U"},
                **(
                    {
                        "can_be_edited": False,
                        "is_anonymous": False,
                        "can_manage_chat": True,
                        "can_delete_messages": True,
                        "can_manage_video_chats": True,
                        "can_restrict_members": True,
                        "can_promote_members": False,
                        "can_change_info": True,
                        "can_invite_users": True,
                        "can_post_stories": False,
                        "can_edit_stories": False,
                        "can_delete_stories": False,
                    }
                    if admin
                    else {}
                ),
            }
        raise TelegramError(404, f"Not Found: method {method} is not in the fake server")

    def message_json(self, sent: Sent) -> dict[str, Any]:
        chat_type = "private" if sent.chat_id > 0 else "supergroup"
        chat = {"id": sent.chat_id, "type": chat_type, **({"title": "Group"} if chat_type != "private" else {})}
        return {"message_id": sent.message_id, "date": int(time.time()), "chat": chat, "from": BOT, "text": sent.text}


def _params(request: tornado.httputil.HTTPServerRequest) -> dict[str, Any]:
    """PTB posts form fields whose values are JSON-encoded (multipart when it uploads files)."""
    params: dict[str, Any] = {}
    if request.headers.get("Content-Type", "").startswith("application/json") and request.body:
        return json.loads(request.body)
    for key, values in request.body_arguments.items():
        raw = values[-1].decode()
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    for key, values in request.query_arguments.items():
        params.setdefault(key, values[-1].decode())
    return params


class _MethodHandler(tornado.web.RequestHandler):
    def initialize(self, fake: FakeTelegram) -> None:
        self.fake = fake

    async def post(self, token: str, method: str) -> None:
        if token != TOKEN:
            self.set_status(401)
            self.write({"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        params = _params(self.request)
        try:
            if method == "getUpdates":
                result = await self.fake.get_updates(params)
            else:
                result = self.fake.call(method, params)
        except TelegramError as exc:
            self.set_status(exc.code)
            error = {"ok": False, "error_code": exc.code, "description": exc.description}
            self.write({**error, "parameters": exc.parameters} if exc.parameters else error)
            return
        self.write(json.dumps({"ok": True, "result": result}))

    get = post


class _FileHandler(tornado.web.RequestHandler):
    def initialize(self, fake: FakeTelegram) -> None:
        self.fake = fake

    def get(self, token: str, file_id: str) -> None:
        if token != TOKEN or file_id not in self.fake.files:
            self.set_status(404)
            return
        self.write(self.fake.files[file_id])


async def start_server(fake: FakeTelegram) -> tornado.httpserver.HTTPServer:
    """Serve ``fake`` on 127.0.0.1 at a free port; sets ``fake.base_url`` and ``fake.base_file_url``."""
    app = tornado.web.Application(
        [
            (r"/bot([^/]+)/(\w+)", _MethodHandler, {"fake": fake}),
            (r"/file/bot([^/]+)/documents/(\w+)", _FileHandler, {"fake": fake}),
        ]
    )
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    fake.base_url = f"http://127.0.0.1:{port}/bot"
    fake.base_file_url = f"http://127.0.0.1:{port}/file/bot"
    return server


class Chat:
    """One user in one chat: ``await chat.send("/ask ...")`` then ``await chat.next_reply()``.

    ``send`` goes through the fake server, as Telegram delivers updates. To check that the bot stays silent,
    ``feed`` hands the update to the application and returns once it has been processed to the end (as
    aiogram_dialog's ``BotClient`` does), so ``silent_since`` can then look: no waiting on the clock.
    """

    def __init__(
        self,
        fake: FakeTelegram,
        *,
        chat_id: int,
        user_id: int,
        first_name: str = "Ada",
        chat_type: str = "private",
        app: Any = None,
    ) -> None:
        self.fake = fake
        self.app = app
        self.chat_id = chat_id
        self.user = {"id": user_id, "is_bot": False, "first_name": first_name, "username": f"user{user_id}"}
        self.chat = {"id": chat_id, "type": chat_type}
        if chat_type != "private":
            self.chat["title"] = "Test group"
        else:
            self.chat["first_name"] = first_name
        fake.cursors.setdefault(chat_id, len(fake.sent))

    @property
    def _seen(self) -> int:
        """How far this chat's transcript has been read; shared by every member's view of the chat."""
        return self.fake.cursors[self.chat_id]

    @_seen.setter
    def _seen(self, value: int) -> None:
        self.fake.cursors[self.chat_id] = value

    def as_user(self, user_id: int, first_name: str = "Bob") -> Chat:
        """The same chat seen by another member."""
        return Chat(
            self.fake,
            chat_id=self.chat_id,
            user_id=user_id,
            first_name=first_name,
            chat_type=self.chat["type"],
            app=self.app,
        )

    def message(self, text: str | None = None, **extra: Any) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": self.fake.new_message_id(),
            "date": int(time.time()),
            "chat": self.chat,
            "from": self.user,
            **extra,
        }
        if text is not None:
            message["text"] = text
            entities = list(extra.pop("entities", []))
            command = re.match(r"/\w+(@\w+)?", text)
            if command:
                entities.append({"type": "bot_command", "offset": 0, "length": len(command.group())})
            for mention in re.finditer(r"@\w+", text):
                if not (command and mention.start() < command.end()):
                    entities.append(
                        {
                            "type": "mention",
                            "offset": _length(text[: mention.start()]),
                            "length": _length(mention.group()),
                        }
                    )
            if entities:
                message["entities"] = entities
        return message

    async def send(self, text: str | None = None, **extra: Any) -> dict[str, Any]:
        """The user sends a message; returns it (for replies)."""
        message = self.message(text, **extra)
        self.fake.push("message", message)
        return message

    def mark(self) -> int:
        """A point in the transcript, for ``silent_since``."""
        return len(self.fake.sent)

    def silent_since(self, mark: int) -> bool:
        """Whether the bot sent or edited nothing in this chat since ``mark``."""
        return all(sent.chat_id != self.chat_id for sent in self.fake.sent[mark:])

    async def feed(self, text: str | None = None, **extra: Any) -> dict[str, Any]:
        """The user sends a message, and it is processed to the end before this returns."""
        message = self.message(text, **extra)
        await self.feed_update("message", message)
        return message

    async def feed_update(self, kind: str, payload: dict[str, Any]) -> None:
        """Any update, processed to the end (handlers and error handler) before this returns."""
        from telegram import Update

        if self.app is None:
            raise AssertionError("this Chat was made without app=; feeding needs the application")
        update = Update.de_json({"update_id": next(self.fake._update_ids), kind: payload}, self.app.bot)
        await self.app.process_update(update)

    def callback(self, sent: Sent, label: str) -> dict[str, Any]:
        """The callback query of pressing the button whose text starts with ``label`` under ``sent``."""
        button = next(b for b in sent.buttons if b["text"].startswith(label))
        return {
            "id": str(self.fake.new_message_id()),
            "from": self.user,
            "chat_instance": "ci",
            "message": self.fake.message_json(sent),
            "data": button["callback_data"],
        }

    async def edit(self, message: dict[str, Any], text: str) -> None:
        self.fake.push("edited_message", {**message, "text": text, "edit_date": int(time.time())})

    async def reply_to(self, sent: Sent, text: str) -> dict[str, Any]:
        """The user replies to a message the bot sent."""
        original = self.fake.message_json(sent)
        return await self.send(text, reply_to_message=original)

    async def send_document(self, name: str, data: bytes, caption: str | None = None) -> dict[str, Any]:
        file_id = f"f{self.fake.new_message_id()}"
        self.fake.files[file_id] = data
        document = {"file_id": file_id, "file_unique_id": file_id, "file_name": name, "file_size": len(data)}
        extra: dict[str, Any] = {"document": document}
        if caption:
            extra["caption"] = caption
            command = re.match(r"/\w+(@\w+)?", caption)
            if command:
                extra["caption_entities"] = [{"type": "bot_command", "offset": 0, "length": len(command.group())}]
        message = self.message(None, **extra)
        self.fake.push("message", message)
        return message

    async def press(self, sent: Sent, label: str) -> None:
        """The user presses the inline button whose text starts with ``label`` under ``sent``."""
        self.fake.push("callback_query", self.callback(sent, label))

    async def inline(self, query: str) -> list[dict[str, Any]]:
        """The user types ``@bot query``; returns the results the bot offered."""
        before = len(self.fake.calls)
        self.fake.push(
            "inline_query", {"id": str(self.fake.new_message_id()), "from": self.user, "query": query, "offset": ""}
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for method, params in self.fake.calls[before:]:
                if method == "answerInlineQuery":
                    return params.get("results") or []
            await self.fake.wait_for_change(0.2)
        raise AssertionError("the bot did not answer the inline query")

    def actions(self) -> list[str]:
        """The chat actions ("typing") the bot has sent to this chat so far."""
        return [p["action"] for m, p in self.fake.calls if m == "sendChatAction" and int(p["chat_id"]) == self.chat_id]

    async def next_action(self, seconds: float = 10.0) -> str:
        """Wait for the bot to send this chat a chat action, and return it."""
        before = len(self.actions())
        deadline = time.monotonic() + seconds
        while len(self.actions()) == before:
            if time.monotonic() > deadline:
                raise AssertionError(f"no chat action in chat {self.chat_id} within {seconds} s")
            await self.fake.wait_for_change(0.2)
        return self.actions()[before]

    async def next_reply(self, seconds: float = 10.0) -> Sent:
        """The next message the bot sends or edits in this chat."""
        deadline = time.monotonic() + seconds
        while True:
            for i in range(self._seen, len(self.fake.sent)):
                if self.fake.sent[i].chat_id == self.chat_id:
                    self._seen = i + 1
                    return self.fake.sent[i]
            self._seen = (
                len(self.fake.sent)
                if all(s.chat_id != self.chat_id for s in self.fake.sent[self._seen :])
                else self._seen
            )
            if time.monotonic() > deadline:
                raise AssertionError(f"no reply in chat {self.chat_id} within {seconds} s")
            await self.fake.wait_for_change(0.2)
