"""The web chat page in real headless Chromium (Debian's `chromium` + `chromedriver`), driven by
Selenium against a real `rasa run` on 127.0.0.1: what a customer sees and clicks, in the
browser's language and the conversation's. Screenshots of the page are saved to
var/screenshots/ (SCREENSHOTS) as test artifacts."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Dict, Iterator, List

import jwt
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from bot.page_locales import read_locale_files
from bot.web_session import ALGORITHM, COOKIE
from tests.client import DEMO_SIGN_IN, tracker
from tests.conftest import REPO
from tests.responses import identify
from tests.servers import WEB_SESSION_SECRET, running_bot, seeded_store

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REPLY_TIMEOUT_S = 60
STORE_KEY = "nordhaven-chat"
SCREENSHOTS = REPO / "var" / "screenshots"
PAGE_TEXTS: Dict[str, Dict[str, str]] = read_locale_files()
PHONE_WIDTH_PX = 360
# Added to every request of the page, so a reply is pending long enough to be seen pending.
SLOW_NETWORK = {"offline": False, "latency": 1500, "downloadThroughput": -1, "uploadThroughput": -1}


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("web-browser")
    with running_bot(tmp, seeded_store(tmp), extra_env=DEMO_SIGN_IN) as base:
        yield f"{base}/webhooks/web/"


def chromium(language: str) -> WebDriver:
    """Headless Chromium whose browser language (navigator.languages, Accept-Language) is `language`."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not (path.exists() or shutil.which(path.name))]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: run scripts/system-deps.sh (make test does) to install chromium and chromium-driver.")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1000,900", f"--lang={language}"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium's sandbox refuses to run as root
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    driver = chromium("en-US")
    try:
        yield driver
    finally:
        driver.quit()


def fresh_page(driver: WebDriver, url: str) -> WebDriver:
    """The chat page with a fresh conversation (no session cookie, nothing in localStorage), opened."""
    driver.get(url)
    driver.delete_all_cookies()
    driver.execute_script("localStorage.clear();")
    driver.refresh()
    return opened(driver)


def opened(driver: WebDriver) -> WebDriver:
    """Waits until the page has its texts and session: the greeting is its first bubble."""
    WebDriverWait(driver, REPLY_TIMEOUT_S).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#log .msg--greeting"))
    return driver


@pytest.fixture
def page(browser: WebDriver, bot: str) -> WebDriver:
    return fresh_page(browser, bot)


@pytest.fixture(scope="module", params=["es-ES", "zh-CN", "ar-EG"])
def localized_browser(request: pytest.FixtureRequest) -> Iterator[WebDriver]:
    """A browser set to Spanish, Chinese or Arabic (one at a time)."""
    driver = chromium(request.param)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def localized_page(localized_browser: WebDriver, bot: str) -> WebDriver:
    return fresh_page(localized_browser, bot)


def page_language(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "html").get_attribute("lang")


def screenshot(driver: WebDriver, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def session_sender(driver: WebDriver) -> str:
    """The sender id in the browser's HttpOnly session cookie (the page's script cannot read it)."""
    return jwt.decode(driver.get_cookie(COOKIE)["value"], WEB_SESSION_SECRET, algorithms=[ALGORITHM])["sub"]


def bubbles(driver: WebDriver, kind: str) -> List[WebElement]:
    """The bubbles of one kind (bot, user, error); the page's own greeting is not a bot reply."""
    return driver.find_elements(By.CSS_SELECTOR, f"#log .msg--{kind}:not(.msg--greeting)")


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
    assert reply.value_of_css_property("text-align") in ("right", "start")  # start: right, in rtl


def test_buttons_are_shown_and_a_click_sends_their_payload(page: WebDriver, bot: str) -> None:
    page.get(f"{bot}demo/maria")  # the demo sign-in: a session as Maria, then the page
    assert page.current_url == bot
    opened(page)
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
    opened(page)
    assert identify(say(page, "hello")[0].text) == ("utter_greet", "en")


def test_a_customer_link_is_gone_and_a_url_cannot_pick_the_sender(page: WebDriver, bot: str) -> None:
    page.get(f"{bot}?customer=maria")
    opened(page)
    assert identify(say(page, "/greet")[0].text) == ("utter_greet", "en")  # a guest, not Maria
    assert session_sender(page) != "web:demo-maria"


def test_the_address_without_the_final_slash_leads_to_a_working_page(page: WebDriver, bot: str) -> None:
    page.get(bot.rstrip("/"))
    assert page.current_url == bot
    opened(page)
    assert identify(say(page, "hello")[0].text) == ("utter_greet", "en")


# --------------------------------------------------------------------------- the page's language


def test_the_page_speaks_the_browser_language_and_greets(localized_page: WebDriver) -> None:
    language = page_language(localized_page)
    texts = PAGE_TEXTS[language]
    assert language in ("es", "zh", "ar") and texts["send"] != PAGE_TEXTS["en"]["send"]
    assert localized_page.find_element(By.TAG_NAME, "html").get_attribute("dir") == ("rtl" if language == "ar" else "ltr")
    assert localized_page.title == texts["title"]
    assert localized_page.find_element(By.TAG_NAME, "h1").text == texts["title"]
    assert localized_page.find_element(By.ID, "send").text == texts["send"]
    assert localized_page.find_element(By.ID, "restart").text == texts["restart"]
    box = localized_page.find_element(By.ID, "text")
    assert box.get_attribute("placeholder") == texts["placeholder"]
    assert box.get_attribute("aria-label") == texts["message_label"]
    [greeting] = localized_page.find_elements(By.CSS_SELECTOR, "#log .msg--greeting")
    assert greeting.text == texts["greeting"]
    assert localized_page.find_element(By.ID, "log").get_attribute("aria-live") == "polite"
    screenshot(localized_page, f"web-{language}-open")


def test_a_pending_reply_shows_typing_and_disables_send(localized_page: WebDriver) -> None:
    language = page_language(localized_page)
    typing = localized_page.find_element(By.ID, "typing")
    send = localized_page.find_element(By.ID, "send")
    assert not typing.is_displayed() and send.is_enabled()
    message = {"es": "¿Dónde está mi pedido?", "zh": "我的订单在哪里？", "ar": "أين طلبي؟ لم يصل بعد"}[language]
    localized_page.execute_cdp_cmd("Network.emulateNetworkConditions", SLOW_NETWORK)
    try:
        box = localized_page.find_element(By.ID, "text")
        box.send_keys(message)
        box.submit()
        assert typing.is_displayed() and not send.is_enabled()
        assert typing.text == PAGE_TEXTS[language]["typing"]
        WebDriverWait(localized_page, REPLY_TIMEOUT_S).until(lambda d: bubbles(d, "bot") or bubbles(d, "error"))
    finally:
        localized_page.execute_cdp_cmd("Network.emulateNetworkConditions", {**SLOW_NETWORK, "latency": 0})
    assert not bubbles(localized_page, "error"), bubbles(localized_page, "error")[0].text
    assert identify(bubbles(localized_page, "bot")[0].text) == ("utter_ask_order_number", language)
    assert not typing.is_displayed() and send.is_enabled()


def test_a_phone_screen_has_no_horizontal_scroll(localized_page: WebDriver) -> None:
    localized_page.set_window_size(PHONE_WIDTH_PX, 760)
    try:
        language = page_language(localized_page)
        say(localized_page, {"es": "Quiero devolver un artículo", "zh": "我想退货", "ar": "أريد إرجاع منتج"}[language])
        # One long word must wrap, not widen the page (the words around it keep the language).
        say(localized_page, {"es": "Mi número de seguimiento es ", "zh": "我的快递单号是", "ar": "رقم التتبع الخاص بي هو "}[language] + "NH" + "1234567890" * 25)
        assert page_language(localized_page) == language
        width = localized_page.execute_script("return window.innerWidth;")
        assert width <= PHONE_WIDTH_PX
        assert localized_page.execute_script("return document.documentElement.scrollWidth;") <= width
        screenshot(localized_page, f"web-{language}-phone")
    finally:
        localized_page.set_window_size(1000, 900)


def test_an_error_is_written_in_the_page_language(localized_page: WebDriver) -> None:
    language = page_language(localized_page)
    localized_page.delete_all_cookies()  # the session is gone: the server answers 401
    box = localized_page.find_element(By.ID, "text")
    box.send_keys("hola")
    box.submit()
    WebDriverWait(localized_page, REPLY_TIMEOUT_S).until(lambda d: bubbles(d, "error"))
    assert bubbles(localized_page, "error")[0].text == PAGE_TEXTS[language]["error_session_expired"]


def test_arabic_mirrors_the_whole_layout(bot: str) -> None:
    driver = chromium("ar")
    try:
        fresh_page(driver, bot)
        driver.get(f"{bot}demo/maria")  # the demo sign-in: a session as Maria, then the page
        opened(driver)
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("dir") == "rtl"
        say(driver, "أرغب في إلغاء الطلب رقم 10001 من فضلك")
        log = driver.find_element(By.ID, "log").rect
        user, bot_reply = bubbles(driver, "user")[-1], bubbles(driver, "bot")[-1]
        assert identify(bot_reply.text) == ("utter_ask_cancel_confirmation", "ar"), bot_reply.text
        # The bot speaks from the right (the start side), the customer from the left.
        assert bot_reply.rect["x"] + bot_reply.rect["width"] > log["x"] + log["width"] - 40
        assert user.rect["x"] < log["x"] + 40
        yes, no = driver.find_elements(By.CSS_SELECTOR, "#log .buttons button")
        assert (yes.text, no.text) == ("نعم", "لا")
        assert yes.rect["x"] > no.rect["x"]  # read right to left: نعم first
        box, send = driver.find_element(By.ID, "text").rect, driver.find_element(By.ID, "send").rect
        assert send["x"] < box["x"]  # Send at the end of the line, on the left
        assert driver.find_element(By.ID, "text").value_of_css_property("text-align") in ("start", "right")
        screenshot(driver, "web-ar")
    finally:
        driver.quit()


def test_the_page_follows_the_conversation_into_its_language(page: WebDriver) -> None:
    assert page_language(page) == "en"
    [reply] = say(page, "أين طلبي؟ لم يصل بعد")
    assert identify(reply.text) == ("utter_ask_order_number", "ar")
    WebDriverWait(page, REPLY_TIMEOUT_S).until(lambda d: page_language(d) == "ar")
    assert page.find_element(By.ID, "send").text == PAGE_TEXTS["ar"]["send"]
    assert page.find_element(By.TAG_NAME, "html").get_attribute("dir") == "rtl"
    page.refresh()  # a reload keeps the conversation's language
    opened(page)
    WebDriverWait(page, REPLY_TIMEOUT_S).until(lambda d: page_language(d) == "ar")
