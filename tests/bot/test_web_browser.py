"""The web chat page in real headless Chromium (Debian's `chromium` + `chromedriver`), driven by
Selenium against a real `rasa run` on 127.0.0.1: what a customer sees and clicks."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Iterator, List

import jwt
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from bot.web_session import ALGORITHM, COOKIE
from tests.client import DEMO_SIGN_IN, tracker
from tests.responses import identify
from tests.servers import WEB_SESSION_SECRET, running_bot, seeded_store

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REPLY_TIMEOUT_S = 60
STORE_KEY = "nordhaven-chat"


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("web-browser")
    with running_bot(tmp, seeded_store(tmp), extra_env=DEMO_SIGN_IN) as base:
        yield f"{base}/webhooks/web/"


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not (path.exists() or shutil.which(path.name))]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: run scripts/system-deps.sh (make test does) to install chromium and chromium-driver.")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1000,900", "--lang=en-US"):
        options.add_argument(argument)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium's sandbox refuses to run as root
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser: WebDriver, bot: str) -> WebDriver:
    """The chat page with a fresh conversation (no session cookie, nothing in localStorage)."""
    browser.get(bot)
    browser.delete_all_cookies()
    browser.execute_script("localStorage.clear();")
    browser.refresh()
    return browser


def session_sender(driver: WebDriver) -> str:
    """The sender id in the browser's HttpOnly session cookie (the page's script cannot read it)."""
    return jwt.decode(driver.get_cookie(COOKIE)["value"], WEB_SESSION_SECRET, algorithms=[ALGORITHM])["sub"]


def bubbles(driver: WebDriver, kind: str) -> List[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, f"#log .msg--{kind}")


def say(driver: WebDriver, text: str) -> List[WebElement]:
    """Types `text`, presses Enter, and returns the bot bubbles that appeared in reply."""
    before = len(bubbles(driver, "bot"))
    box = driver.find_element(By.ID, "text")
    box.send_keys(text)
    box.submit()
    WebDriverWait(driver, REPLY_TIMEOUT_S).until(lambda d: len(bubbles(d, "bot")) > before or bubbles(d, "error"))
    assert not bubbles(driver, "error"), bubbles(driver, "error")[0].text
    return bubbles(driver, "bot")[before:]


def test_a_typed_message_gets_a_reply(page: WebDriver) -> None:
    replies = say(page, "hello")
    assert identify(replies[0].text) == ("utter_greet", "en")
    assert [bubble.text for bubble in bubbles(page, "user")] == ["hello"]
    assert replies[0].get_attribute("dir") == "ltr"


def test_an_arabic_reply_renders_right_to_left(page: WebDriver) -> None:
    [reply] = say(page, "أين طلبي؟ لم يصل بعد")
    assert identify(reply.text) == ("utter_ask_order_number", "ar")
    assert reply.get_attribute("dir") == "rtl"
    assert reply.value_of_css_property("direction") == "rtl"
    assert reply.value_of_css_property("text-align") in ("right", "end")


def test_buttons_are_shown_and_a_click_sends_their_payload(page: WebDriver, bot: str) -> None:
    page.get(f"{bot}demo/maria")  # the demo sign-in: a session as Maria, then the page
    assert page.current_url == bot
    say(page, "I want to cancel order 10001")
    buttons = page.find_elements(By.CSS_SELECTOR, "#log .buttons button")
    assert [button.text for button in buttons] == ["Yes", "No"]
    before = len(bubbles(page, "bot"))
    buttons[1].click()
    WebDriverWait(page, REPLY_TIMEOUT_S).until(lambda d: len(bubbles(d, "bot")) > before)
    assert identify(bubbles(page, "bot")[-1].text) == ("utter_cancel_aborted", "en")
    assert bubbles(page, "user")[-1].text == "No"
    assert all(not button.is_enabled() for button in page.find_elements(By.CSS_SELECTOR, "#log .buttons button"))


def test_a_reload_keeps_the_conversation_and_its_sender(page: WebDriver, bot: str) -> None:
    say(page, "where is my order?")
    shown = [item.text for item in page.find_elements(By.CSS_SELECTOR, "#log > li")]
    state = json.loads(page.execute_script(f"return localStorage.getItem('{STORE_KEY}');"))
    sender = session_sender(page)
    assert sender.startswith("web:") and sender not in json.dumps(state)
    cookie = page.get_cookie(COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.execute_script("return document.cookie;") == ""

    page.refresh()

    assert [item.text for item in page.find_elements(By.CSS_SELECTOR, "#log > li")] == shown
    assert session_sender(page) == sender
    say(page, "hello")
    # Both messages reached one tracker, with the page's session id and the browser's locale.
    user_events = [event for event in tracker(bot.split("/webhooks/")[0], sender)["events"] if event["event"] == "user"]
    assert [event["text"] for event in user_events] == ["where is my order?", "hello"]
    assert {event["metadata"]["session_id"] for event in user_events} == {state["conversation"]}
    assert user_events[-1]["metadata"]["locale"] == "en-US"


def test_new_conversation_gets_a_new_session(page: WebDriver) -> None:
    say(page, "hello")
    before = session_sender(page)
    page.find_element(By.ID, "restart").click()
    WebDriverWait(page, REPLY_TIMEOUT_S).until(lambda d: not bubbles(d, "user") and session_sender(d) != before)
    assert identify(say(page, "hello")[0].text) == ("utter_greet", "en")


def test_a_customer_link_is_gone_and_a_url_cannot_pick_the_sender(page: WebDriver, bot: str) -> None:
    page.get(f"{bot}?customer=maria")
    assert identify(say(page, "/greet")[0].text) == ("utter_greet", "en")  # a guest, not Maria
    assert session_sender(page) != "web:demo-maria"


def test_the_address_without_the_final_slash_leads_to_a_working_page(page: WebDriver, bot: str) -> None:
    page.get(bot.rstrip("/"))
    assert page.current_url == bot
    assert identify(say(page, "hello")[0].text) == ("utter_greet", "en")
