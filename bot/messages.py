"""Every text the bot says, in Chinese and English, and the one helper that picks it.

One table, so that a new channel (WeChat next) says exactly what the others say and a
translator finds every sentence in one file. Keys are grouped by who says them:

===================  ============================================================
(no prefix)          the engine's fixed replies (fallback, clarify, empty …); staff
                     may override them in ``smalltalk.yaml`` under ``messages:``
``conversation.``    feedback thanks, the topic list's introduction
``signup.``          the open-day sign-up dialogue, reminders and notices
``console.``         the numbered-lines rendering (command line, WeChat)
``telegram.``        Telegram's own texts, its command menu and keyboard
``wechat.``          WeChat's own texts (welcome, media, its menu's buttons)
``review.``          ``run_bot.py review``
``stats.``           the statistics (``run_bot.py stats``, Telegram's /stats)
``reload.``          what an admin is told after a knowledge reload
``web.``             the JSON API's error messages; ``web.page.`` the chat page's texts
===================  ============================================================

Traditional script is never written here: :func:`say` derives it from the simplified text
for ``lang="zh-hant"``, in this one place. A key with a channel suffix
(``signup.forget_how.telegram``) is what :func:`say` picks for that channel when asked with
``channel=``; other channels get the key without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from bot.text import to_traditional

Text = tuple[str, str]  # (simplified Chinese, English)


class Override(Protocol):
    """A staff-written message (``smalltalk.yaml``): English may be left empty."""

    zh: str
    en: str


MESSAGES: dict[str, Text] = {
    # the engine (staff may override these in smalltalk.yaml)
    "fallback": ("抱歉，这个问题我还答不上来。我能回答青岛2022年“质量月”的相关问题：主题活动、十项重点工作、"
                 "NQI一站式服务、品博会、质量奖和品牌成绩等。",
                 "Sorry, I can't answer that yet. I can answer questions about Qingdao's 2022 "
                 "Quality Month: the ceremony, the ten key tasks, NQI one-stop services, the "
                 "Quality Life Expo, quality awards and brand figures."),
    "clarify": ("您想问的是下面哪一个？", "Did you mean one of these?"),
    "two_parts": ("您一次问了两件事，请分别点选：", "You asked two things at once; pick each one:"),
    "empty": ("请输入您的问题，例如：品博会什么时候举办？",
              "Please type a question, for example: When is the Quality Life Expo?"),
    "too_long": ("问题太长了，请用一两句话提问（不超过{max_chars}字）。",
                 "That message is too long; please ask in a sentence or two "
                 "(at most {max_chars} characters)."),
    "related": ("相关问题", "Related questions"),
    "rephrase": ("好的。请换个说法再问一次，或者从下面的话题里选择。",
                 "All right. Please ask in other words, or pick a topic below."),
    "expired": ("这个按钮已经失效了，请重新提问。", "That button no longer works; please ask again."),
    "detail_not_in_source": ("报道没有提到{subject}的{detail}。关于{subject}，报道提到：{said}",
                             "The report does not give the {detail} of {subject}. "
                             "What it says about {subject}: {said}"),
    # the conversation
    "conversation.thanks_up": ("谢谢您的反馈！", "Thank you for your feedback!"),
    "conversation.thanks_down": ("谢谢您的反馈，我们会据此改进回答。您也可以换个说法再问一次。",
                                 "Thank you for telling us; we will use it to improve this "
                                 "answer. You can also ask in other words."),
    "conversation.topic_intro": ("关于“{topic}”，您可以问：", "Questions about {topic}:"),
    # the open-day sign-up
    "signup.invite": ("报名开放日", "Sign up for the open day"),
    "signup.list_head": ("检验检测机构开放日，可以报名的场次：", "Open days at inspection and testing "
                  "institutions — sessions you can sign up for:"),
    "signup.list_tail": ("请点选一个场次（也可以输入序号）。发送“取消”退出报名。",
                  "Pick a session (or type its number). Type “cancel” to stop."),
    "signup.seats_left": ("剩余名额：{n}", "Seats left: {n}"),
    "signup.full": ("已约满，可以登记候补（目前{w}人候补）", "Full — you can join the waiting list "
             "({w} waiting)"),
    "signup.yours": ("（您已报名这个场次）", "(you are signed up for this one)"),
    "signup.pick_label": ("{n}. {date} {inst}", "{n}. {date} {inst}"),
    "signup.wait_label": ("{n}. 候补 {date} {inst}", "{n}. Waiting list {date} {inst}"),
    "signup.cancel_button": ("取消报名", "Stop signing up"),
    "signup.none_upcoming": ("目前没有可以报名的开放日场次。需要的话，有新场次时我们通知您一次。",
                      "There are no open-day sessions to sign up for at the moment. If you "
                      "like, we will tell you once when sessions are added."),
    "signup.notify_button": ("有新场次时通知我", "Tell me when sessions are added"),
    "signup.notify_saved": ("好的，有新的开放日场次时会通知您一次。发送“删除我的信息”可以随时撤回。",
                     "All right: we will tell you once when open-day sessions are added. "
                     "Send “delete my data” to withdraw this at any time."),
    "signup.notify_already": ("您已经登记过了，有新场次时会通知您。",
                       "You are already on the list; we will tell you when sessions are added."),
    "signup.sessions_added": ("检验检测机构开放日有新的场次可以报名了。", "New open-day sessions are "
                       "open for sign-up."),
    "signup.not_available": ("抱歉，这个场次已经不能报名了（已开始、已结束或已取消）。",
                      "Sorry, that session can no longer be booked (it has started, ended or "
                      "been withdrawn)."),
    "signup.session_full": ("这个场次已经约满了。您可以登记候补：有人取消时按顺序递补，递补成功会通知您。",
                     "That session is full. You can join its waiting list: when someone "
                     "cancels, the first person waiting gets the seat and is told."),
    "signup.join_waitlist": ("登记候补", "Join the waiting list"),
    "signup.other_sessions": ("看看其他场次", "See other sessions"),
    "signup.consent": ("报名需要收集参观人的姓名和手机号码，仅用于核对报名和入场、活动前一天提醒，"
                "以及场次变动时通知您，不作其他用途，也不会公开。信息保存到活动结束后30天，"
                "之后自动删除。您随时可以删除自己的全部信息：{forget_how}。\n是否同意并继续？",
                "To sign up we collect the visitor's name and mobile number. They are used only "
                "to check sign-ups and admission, to remind you the day before and to tell you "
                "if the session changes — nothing else, and they are never published. They are "
                "kept until 30 days after the session, then deleted automatically. You can "
                "delete all your data at any time: {forget_how}.\nDo you agree and continue?"),
    # how to delete one's data, said in the consent notice: per channel, else the default
    "signup.forget_how": ("发送“删除我的信息”", "send “delete my data”"),
    "signup.forget_how.telegram": ("发送“删除我的信息”或 /forget", "send “delete my data” or /forget"),
    "signup.forget_how.web": ("发送“删除我的信息”，或点“删除我的信息”按钮",
                              "send “delete my data”, or press the “Delete my data” button"),
    "signup.forget_how.wechat": ("发送“删除我的信息”", "send “删除我的信息” (delete my data)"),
    "signup.waitlist_note": ("（这个场次已约满，报名后将登记候补。）",
                      "(This session is full: you will be put on its waiting list.)"),
    "signup.you_chose": ("您选择的场次：", "Your session:"),
    "signup.agree": ("同意并继续", "Agree and continue"),
    "signup.disagree": ("不同意", "Do not agree"),
    "signup.declined": ("好的，已停止报名，没有保存您的任何信息。", "All right, sign-up stopped; nothing "
                 "about you was stored."),
    "signup.ask_name": ("请输入参观人的姓名（1–30个字）。", "Please type the visitor's name "
                 "(1–30 characters)."),
    "signup.bad_name": ("姓名需要是1–30个字，只包含文字（可以有空格、间隔号“·”或连字符），"
                 "例如：王小明。", "A name is 1–30 characters of letters (spaces, hyphens, "
                 "apostrophes and dots allowed), for example: Li Ming."),
    "signup.ask_phone": ("请输入手机号码（中国大陆手机号，例如：13812345678）。",
                  "Please type a mobile number (mainland China, for example: 13812345678 or "
                  "+86 138 1234 5678)."),
    "signup.bad_phone": ("这个号码看起来不对。请输入11位中国大陆手机号，以1开头，例如：13812345678"
                  "（可以带+86，可以有空格或短横线）。", "That number does not look right. Please "
                  "type an 11-digit mainland China mobile number starting with 1, for example "
                  "13812345678 (with or without +86; spaces and dashes are fine)."),
    "signup.confirm_head": ("请核对报名信息：", "Please check your sign-up:"),
    "signup.visitor": ("参观人：{name}", "Visitor: {name}"),
    "signup.mobile": ("手机号码：{phone}", "Mobile: {phone}"),
    "signup.confirm_tail": ("信息无误请点“确认报名”。", "If everything is right, press “Confirm”."),
    "signup.confirm": ("确认报名", "Confirm"),
    "signup.choose": ("请点下面的按钮选择。", "Please use the buttons below."),
    "signup.cancelled_flow": ("已退出报名，没有保存任何信息。", "Sign-up stopped; nothing was saved."),
    "signup.booked": ("报名成功！\n预约码：{code}", "You are signed up!\nBooking code: {code}"),
    "signup.booked_tail": ("活动前一天{time}会给您发提醒。发送“我的预约”可以查看或取消。",
                    "We will remind you at {time} the day before. Send “my bookings” to see or "
                    "cancel it."),
    "signup.waiting": ("这个场次已经约满，已为您登记候补，目前排第{pos}位。有人取消时按顺序递补，"
                "递补成功会通知您。\n候补编号：{code}", "That session is full, so you are on its "
                "waiting list, number {pos}. When someone cancels, the first person waiting "
                "gets the seat and is told.\nWaiting-list code: {code}"),
    "signup.already": ("您已经报名了这个场次（{state}，预约码 {code}）。每人每个场次只能报名一次。",
                "You have already signed up for this session ({state}, code {code}). One "
                "sign-up per person per session."),
    "signup.state_booked": ("已预约", "booked"),
    "signup.state_waiting": ("候补第{pos}位", "waiting list, number {pos}"),
    "signup.state_gone": ("场次已不在列表中", "session no longer listed"),
    "signup.my_bookings": ("我的预约", "My bookings"),
    "signup.bookings_head": ("您的预约：", "Your bookings:"),
    "signup.no_bookings": ("您目前没有预约。", "You have no bookings."),
    "signup.cancel_booking": ("取消 {code}", "Cancel {code}"),
    "signup.cancel_ask": ("确定要取消预约 {code} 吗？\n{card}", "Cancel booking {code}?\n{card}"),
    "signup.cancel_yes": ("确定取消", "Yes, cancel it"),
    "signup.cancel_no": ("保留预约", "Keep it"),
    "signup.cancelled": ("已取消预约 {code}。", "Booking {code} is cancelled."),
    "signup.kept": ("好的，预约保留。", "All right, the booking stays."),
    "signup.no_such_booking": ("没有找到这个预约，可能已经取消了。", "That booking was not found; it may "
                        "already be cancelled."),
    "signup.promoted": ("好消息：您候补的开放日场次有名额了，已为您转为正式预约。\n预约码：{code}",
                 "Good news: a seat has come free, and your waiting-list place is now a "
                 "booking.\nBooking code: {code}"),
    "signup.reminder": ("提醒：您预约的开放日就在明天。\n预约码：{code}",
                 "Reminder: your open-day visit is tomorrow.\nBooking code: {code}"),
    "signup.reminder_tail": ("如果不能参加，请取消预约，把名额留给其他市民。",
                      "If you cannot come, please cancel so that someone else can have the "
                      "seat."),
    "signup.forget_ask": ("确定要删除我们保存的您的全部信息吗？这会同时取消您的所有预约和候补，"
                   "无法恢复。", "Delete everything we store about you? This also cancels all "
                   "your bookings and waiting-list places, and cannot be undone."),
    "signup.forget_yes": ("确定删除", "Yes, delete"),
    "signup.forget_no": ("不删除", "No"),
    "signup.forget_button": ("删除我的信息", "Delete my data"),
    "signup.forgotten": ("已删除您的全部信息（{n}条预约记录）。", "Everything we stored about you is "
                  "deleted ({n} booking records)."),
    "signup.not_forgotten": ("好的，什么都没有删除。", "All right, nothing was deleted."),
    "signup.aside": ("—— 您正在报名开放日，请继续：", "— You are signing up for the open day; to "
              "continue:"),
    "signup.expired": ("这一步已经失效了（报名30分钟没有完成会自动取消）。请重新报名。",
                "That step has expired (a sign-up left for 30 minutes is dropped). Please start "
                "again."),
    "signup.unidentified": ("暂时无法识别您的会话，不能报名。请刷新页面后再试。",
                     "We cannot tell who you are in this chat, so sign-up is not possible. "
                     "Please reload the page and try again."),
    "signup.unavailable": ("这里暂时不能报名开放日。", "Open-day sign-up is not available here."),
    "signup.storage_down": ("暂时无法报名，请稍后再试。", "Sign-up is not possible just now; please try "
                     "again later."),
    "signup.phone_taken": ("这个手机号码已经报名了这个场次。每个手机号码每个场次只能报名一次。",
                    "That mobile number is already signed up for this session. One sign-up "
                    "per mobile number per session."),
    "signup.client_limit": ("今天从这个网络报名的次数已经达到上限，请明天再试，或通过 Telegram 报名。",
                     "Today's limit of sign-ups from this network has been reached; please try "
                     "again tomorrow, or sign up on Telegram."),
    "signup.booking_stands": ("您的报名已经成功，预约仍然有效。\n预约码：{code}",
                       "You are signed up; your booking stands.\nBooking code: {code}"),
    "signup.admin_cancelled": ("您的开放日预约 {code} 已被工作人员取消。如有疑问，请联系主办单位；"
                        "也可以重新报名。", "Your open-day booking {code} was cancelled by the "
                        "organisers. If you have questions, please contact them; you can also "
                        "sign up again."),
    "signup.label_when": ("时间：", "When: "),
    "signup.label_where": ("地址：", "Where: "),
    "signup.label_see": ("参观内容：", "You will see: "),
    "signup.label_age": ("年龄要求：", "Age: "),
    "signup.label_notes": ("备注：", "Notes: "),
    "signup.age_range": ("{a}–{b}岁", "{a} to {b} years old"),
    "signup.age_min": ("{a}岁及以上", "{a} years and over"),
    "signup.age_max": ("{b}岁及以下", "up to {b} years old"),
    "signup.no_summaries": ("没有开放日场次，也没有预约。", "No sessions and no bookings."),
    "signup.summary_seats": ("已约{booked}/{capacity}，剩余{left}",
                             "{booked}/{capacity} booked, {left} left"),
    "signup.summary_unlisted": ("已约{booked}，场次已不在列表中",
                                "{booked} booked, session no longer listed"),
    "signup.summary_row": ("{session}  {start}  {institution}：{seats}，候补{waiting}人",
                           "{session}  {start}  {institution}: {seats}, {waiting} waiting"),
    # numbered lines: the command line's chat (and WeChat)
    "console.links": ("链接：", "Links:"),
    "console.also_ask": ("您还可以问：", "You may also ask:"),
    "console.none": ("都不是", "None of these"),
    "console.hello": ("青岛质量月问答 — 输入问题；输入数字选择选项；输入 quit、exit 或“退出”结束"
                      "（Ctrl-D 也可以）。", "Ask a question; type a number to pick an option; "
                      "type quit or exit to leave."),
    "console.bye": ("再见！", "Goodbye!"),
    "console.pick_few": ("回复 {numbers} 选择", "Reply {numbers} to choose"),
    "console.pick_many": ("回复 1–{n} 中的数字选择", "Reply a number from 1 to {n} to choose"),
    # WeChat's own texts
    "wechat.welcome": ("您好！欢迎关注。我是青岛2022年“质量月”问答助手，可以回答{topics}等问题。\n"
                       "请直接输入问题，例如“品博会什么时候举办？”，或回复下面的数字看一个话题。"
                       "You can also ask in English.",
                       "Hello! I answer questions about Qingdao's 2022 Quality Month: {topics}.\n"
                       "Type a question, e.g. “When is the Quality Life Expo?”, or reply with a "
                       "number below to see a topic."),
    "wechat.topics": ("您可以问这些话题（回复数字查看）：",
                      "Topics you can ask about (reply with a number):"),
    "wechat.media": ("抱歉，我只能读文字消息，请用文字输入您的问题。\n"
                     "Sorry, I can only read text messages; please type your question.",
                     "Sorry, I can only read text messages; please type your question."),
    "wechat.error": ("抱歉，出了点问题，请稍后再试。\nSorry, something went wrong; please try again.",
                     "Sorry, something went wrong; please try again."),
    "wechat.menu.topics": ("问答话题", "Topics"),
    "wechat.menu.signup": ("报名开放日", "Open day sign-up"),
    "wechat.menu.bookings": ("我的预约", "My bookings"),
    # Telegram
    "telegram.welcome": ("您好！我是青岛2022年“质量月”问答助手，可以回答{topics}等问题。\n"
                "请直接输入问题，例如“品博会什么时候举办？”，或点下面的话题。",
                "Hello! I answer questions about Qingdao's 2022 Quality Month: {topics}.\n"
                "Type a question, e.g. “When is the Quality Life Expo?”, or tap a topic below."),
    "telegram.help": ("直接输入问题即可，例如“品博会什么时候举办？”。在群里请 @我 或回复我的消息。\n"
             "/start 话题菜单\n/signup 报名开放日\n/mybookings 我的预约\n/events 活动日期\n"
             "/services 一站式服务\n/lang 选择语言\n/forget 删除我的信息",
             "Just type a question, e.g. “When is the Quality Life Expo?”. In a group, @mention "
             "me or reply to my message.\n/start topics\n/signup open-day sign-up\n"
             "/mybookings my bookings\n/events dates\n/services one-stop services\n"
             "/lang language\n/forget delete my data"),
    "telegram.events": ("活动日期：", "Dates:"),
    "telegram.no_events": ("暂无活动日期。", "No dates yet."),
    "telegram.none": ("都不是", "None of these"),
    "telegram.lang_prompt": ("请选择语言 / Choose a language:", "请选择语言 / Choose a language:"),
    "telegram.lang_set": ("好的，以后用中文回答。", "OK, I'll answer in English from now on."),
    "telegram.media": ("抱歉，我只能读文字消息，请用文字输入您的问题。",
              "Sorry, I can only read text messages; please type your question."),
    "telegram.flood": ("您发送得太快了，请休息一分钟再提问。",
              "You're sending messages very fast; please wait a minute before asking again."),
    "telegram.error": ("抱歉，出了点问题，请稍后再试。", "Sorry, something went wrong. Please try again."),
    "telegram.private_only": ("开放日报名和预约请在与我的私聊中办理，以免您的个人信息出现在群里。",
                     "Please sign up and manage bookings in a private chat with me, so that "
                     "your personal details stay out of the group."),
    "telegram.private_button": ("私聊办理", "Open a private chat"),
    "telegram.unavailable": ("这项功能暂时不可用，请稍后再试。",
                    "This is not available at the moment; please try again later."),
    # admins only
    "telegram.export_caption": ("开放日报名导出（{scope}，{rows}条）。含姓名和手机号码，仅用于核对报名，"
                       "请妥善保管，用完删除。", "Open-day sign-ups ({scope}, {rows} rows). "
                       "Contains names and mobile numbers: for checking sign-ups only; keep it "
                       "safe and delete it when done."),
    "telegram.export_all": ("全部场次", "all sessions"),
    "telegram.export_unknown": ("没有编号为 {session} 的场次。现有场次：\n{ids}",
                       "There is no session {session}. Sessions:\n{ids}"),
    "telegram.reload_unavailable": ("这个版本不能热加载知识库。", "Live reload is not available here."),
    "telegram.stats_usage": ("用法：/stats [天数]，天数为1–365，默认7。",
                    "Usage: /stats [days], days from 1 to 365, 7 if left out."),
    "telegram.stats_unavailable": ("这个版本还没有统计功能。", "Statistics are not available here."),
    "telegram.menu.topics": ("质量月活动", "Quality Month"),
    "telegram.menu.services": ("一站式服务", "One-stop services"),
    "telegram.menu.events": ("活动日期", "Dates"),
    "telegram.menu.open_day": ("开放日报名", "Open day sign-up"),
    # Telegram's command menu (admins' commands listed only in their own chats)
    "telegram.command.start": ("开始与话题菜单", "Start and topics"),
    "telegram.command.help": ("使用帮助", "How to use this bot"),
    "telegram.command.signup": ("报名检验检测机构开放日", "Sign up for the open day"),
    "telegram.command.mybookings": ("我的预约", "My bookings"),
    "telegram.command.events": ("活动日期", "Dates"),
    "telegram.command.services": ("NQI一站式服务", "NQI one-stop services"),
    "telegram.command.lang": ("选择语言", "Choose a language"),
    "telegram.command.cancel": ("退出报名", "Stop signing up"),
    "telegram.command.forget": ("删除我的信息", "Delete my data"),
    "telegram.command.sessions": ("开放日场次与名额", "Open-day sessions and seats"),
    "telegram.command.export": ("导出报名表（CSV），可加场次编号",
                                "Export sign-ups (CSV), optionally one session"),
    "telegram.command.reload": ("重新加载知识库", "Reload the knowledge"),
    "telegram.command.stats": ("使用统计，可加天数", "Usage statistics, optionally for N days"),
    # run_bot.py review
    "review.none": ("没有待处理的问题。", "Nothing to review."),
    "review.head": ("[{i}/{n}] 问了 {count} 次（{askers} 人）  {kinds}  最近一次：{last}",
             "[{i}/{n}] asked {count} time(s) by {askers} people  {kinds}  last: {last}"),
    "review.kinds": ("没答上 {fallback}，请市民选择 {clarify}，👎 {downvote}",
              "not answered {fallback}, did-you-mean {clarify}, 👎 {downvote}"),
    "review.examples": ("  市民的问法：", "  As asked:"),
    "review.picked": ("  市民随后选了：", "  Citizens then picked:"),
    "review.downvoted": ("  被点 👎 的回答：", "  Answers marked 👎:"),
    "review.nearest": ("  最接近的条目：", "  Nearest entries:"),
    "review.no_nearest": ("  （没有接近的条目）", "  (no entry is near)"),
    "review.menu": ("  a N = 加为条目 N 的问法   o = 不属于本机器人的范围   s = 跳过   q = 退出",
             "  a N = add as a phrasing of entry N   o = out of scope   s = skip   q = quit"),
    "review.prompt": ("选择 [a N/o/s/q]> ", "choice [a N/o/s/q]> "),
    "review.which_entry": ("条目编号（1–{n}）或条目 id> ", "entry number (1–{n}) or entry id> "),
    "review.bad_entry": ("没有这个条目：{x}", "No such entry: {x}"),
    "review.which_question": ("加哪一种问法？输入编号（回车 = 1），或直接输入新的问法> ",
                       "Which wording? A number (Enter = 1), or type the wording> "),
    "review.added": ("已把“{q}”加为 {entry} 的问法（{file}，{field}）。",
              "Added “{q}” as a phrasing of {entry} ({file}, {field})."),
    "review.answered": ("  ✓ 现在可以直接回答这个问题。", "  ✓ The bot now answers this question."),
    "review.not_answered": ("  注意：机器人仍不能直接回答（{status}）；可能还需要补充其他问法或同义词。",
                     "  Note: the bot still does not answer it outright ({status}); it may "
                     "need more phrasings or a synonym."),
    "review.not_added": ("没有添加：{why}", "Not added: {why}"),
    "review.out": ("已标记为不属于本机器人的范围，以后不再显示。", "Marked out of scope; not shown again."),
    "review.again": ("请输入 a N、o、s 或 q。", "Please type a N, o, s or q."),
    "review.summary": ("完成：添加 {added} 个问法，{out} 组不属于范围，跳过 {skipped} 组。",
                "Done: {added} phrasing(s) added, {out} group(s) out of scope, {skipped} skipped."),
    # statistics
    "stats.head": ("最近{days}天（{since} 至 {until}）使用情况：",
                   "Usage, last {days} day(s) ({since} – {until}):"),
    "stats.questions": ("提问 {n} 次：直接回答 {answered}（{answered_pct}），请市民选择 {clarified}"
                        "（{clarified_pct}），没能回答 {fallback}（{fallback_pct}）",
                        "Questions: {n} — answered {answered} ({answered_pct}), did-you-mean "
                        "{clarified} ({clarified_pct}), not answered {fallback} ({fallback_pct})"),
    "stats.smalltalk": ("  其中寒暄（你好、谢谢等）{n} 次",
                        "  of the answered, small talk (hello, thanks…): {n}"),
    "stats.channels": ("渠道：", "Channels: "),
    "stats.latency": ("回答用时：平均 {avg:.1f} 毫秒，最长 {max:.1f} 毫秒",
                      "Answer time: {avg:.1f} ms on average, {max:.1f} ms at most"),
    "stats.per_day": ("每天：", "Per day:"),
    "stats.top_entries": ("回答最多的条目：", "Most answered entries:"),
    "stats.entry": ("{entry}（{question}）", "{entry} ({question})"),
    "stats.unanswered": ("没能回答的问题（用 {review} 处理）：",
                         "Top unanswered questions ({review}):"),
    "stats.unanswered_row": ("  {count}次 {question}{who}", "  {count}× {question}{who}"),
    "stats.askers": ("，{n}人", ", {n} people"),
    "stats.picks": ("请市民选择后：{recorded} 次中有 {picked} 次选了条目，{none} 次选了“都不是”",
                    "After “did you mean”: {picked} of {recorded} picked an entry, {none} said "
                    "none fits"),
    "stats.feedback": ("各条目的评价（👍/👎）：", "Feedback per entry (👍/👎):"),
    "stats.bookings": ("开放日各场次预约：", "Open-day bookings per session:"),
    "stats.bookings_row": ("  {session}：已约 {booked}，候补 {waiting}",
                           "  {session}: {booked} booked, {waiting} waiting"),
    # knowledge reload, told to the admins
    "reload.unchanged": ("知识库没有变化（版本 {version}）。", "Knowledge unchanged (version {version})."),
    "reload.loaded": ("知识库已重新加载：{entries} 个条目，版本 {version}。",
                      "Knowledge reloaded: {entries} entries, version {version}."),
    "reload.warnings": ("请检查以下提醒（机器人已使用新版本）：",
                        "Please check (the bot uses the new version):"),
    "reload.broken": ("知识库有错误，机器人仍使用上一版正确内容回答：",
                      "The knowledge has errors; still serving the last good version:"),
    # the JSON API's errors
    "web.too_large": ("内容太长了，请缩短到1000字以内再发送。", "That is too long; please keep it "
                  "under 1,000 characters."),
    "web.not_found": ("没有这个页面。", "There is no such page."),
    "web.timeout": ("网络太慢，请求没有完整到达，请再试一次。", "The request did not arrive in time; "
                "please try again."),
    "web.rate_limited": ("您发送得太快了，请等 {n} 秒后再试。", "You are sending too fast; please "
                     "wait {n} seconds and try again."),
    "web.storage_unavailable": ("暂时无法报名，请稍后再试。", "Sign-up is not possible just now; "
                            "please try again later."),
    "web.internal": ("服务器出了点问题，请稍后再试。", "Something went wrong on our side; please try "
                 "again later."),
    "web.bad_request": ("请求有误，请刷新页面后再试。", "Something was wrong with that request; "
                        "please reload the page and try again."),
    # the web chat page (bot/static/chat.js), given to it inline by bot.channels.web
    "web.page.title": ("青岛质量月问答", "Qingdao Quality Month Q&A"),
    "web.page.subtitle": ("2022年“质量月”活动智能问答", "Qingdao 2022 Quality Month"),
    "web.page.skip": ("跳到提问框", "Skip to the question box"),
    "web.page.label": ("您的问题", "Your question"),
    "web.page.placeholder": ("请输入您的问题", "Type your question"),
    "web.page.send": ("发送", "Send"),
    "web.page.log": ("对话记录", "Conversation"),
    "web.page.you": ("您说：", "You said:"),
    "web.page.bot": ("问答助手说：", "The assistant said:"),
    "web.page.welcome": ("您好！我是青岛“质量月”问答助手。我可以回答2022年青岛质量月的主题活动、"
                         "十项重点工作、NQI一站式服务、品博会、质量奖和品牌成绩等问题。请直接输入问题，或点一个例子：",
                         "Hello! I answer questions about Qingdao's 2022 Quality Month: the "
                         "ceremony, the ten key tasks, NQI one-stop services, the Quality Life "
                         "Expo, quality awards and brand figures. Type a question, or pick an "
                         "example:"),
    "web.page.example_1": ("品博会什么时候举办？", "When is the Quality Life Expo?"),
    "web.page.example_2": ("中国品牌日是哪天？", "When is China Brand Day?"),
    "web.page.example_3": ("NQI一站式服务平台是什么？", "What does NQI stand for?"),
    "web.page.example_4": ("青岛有几个中国质量奖？", "How many China Quality Awards does Qingdao have?"),
    "web.page.links": ("相关链接：", "Links:"),
    "web.page.more": ("您还可以问：", "You may also ask:"),
    "web.page.thinking": ("正在查找答案…", "Looking for the answer…"),
    "web.page.error": ("抱歉，暂时没能取得答案。请检查网络后再试一次。",
                       "Sorry, the answer could not be fetched. Please check your connection "
                       "and try again."),
    "web.page.too_long": ("问题太长了，请用一两句话提问。",
                          "That question is too long; please ask in a sentence or two."),
    "web.page.retry": ("重试", "Try again"),
    "web.page.new_tab": ("（在新窗口打开）", " (opens in a new tab)"),
    "web.page.tools": ("开放日报名与我的信息", "Open day and my data"),
    "web.page.open_day": ("报名开放日", "Open day"),
    "web.page.my_bookings": ("我的预约", "My bookings"),
    "web.page.forget": ("删除我的信息", "Delete my data"),
    "web.page.feedback": ("这个回答有帮助吗？", "Was this helpful?"),
    "web.page.helpful": ("有帮助", "Helpful"),
    "web.page.not_helpful": ("没有帮助", "Not helpful"),
    "web.page.none": ("都不是", "None of these"),
    "web.page.topics": ("您可以从这些话题里选择：", "You can pick one of these topics:"),
    "web.page.clear": ("清空对话", "Clear chat"),
    "web.page.clear_short": ("清空", "Clear"),
    "web.page.copy": ("复制", "Copy"),
    "web.page.copied": ("已复制", "Copied"),
    "web.page.phone_placeholder": ("请输入手机号码", "Type your mobile number"),
    "web.page.name_placeholder": ("请输入参观人的姓名", "Type the visitor's name"),
    "web.page.busy": ("您发得有点快，请稍等一会儿再试。",
                      "That was a little fast; please wait a moment and try again."),
    # the date note under an answer (bot.engine.date_note): label, date, past or to come
    "date.label": ("时间", "Date"),
    "date.note": ("📅 {label}：{on}（{relation}）", "📅 {label}: {on} ({relation})."),
    "date.yearly": ("📅 {label}：每年{day}（{state}）", "📅 {label}: every year on {day} ({state})."),
    "date.today": ("就是今天", "today"),
    "date.today_once": ("就在今天", "today"),
    "date.next": ("下一次是{on}，还有{days}天", "next on {on}, in {days} days"),
    "date.past": ("已过去", "already past"),
    "date.this_year": ("就在今年", "this year"),
    "date.this_month": ("就在本月", "this month"),
    "date.in_days": ("还有{days}天", "in {days} days"),
    # how the honest reply names what the report does not give ("报道没有提到品博会的门票价格")
    "aspect.when": ("时间", "date"), "aspect.day": ("具体日期", "exact day"),
    "aspect.hours": ("开放时间", "opening hours"), "aspect.where": ("地点", "place"),
    "aspect.who": ("相关人员或单位", "names of those involved"),
    "aspect.how_many": ("具体数量", "exact number"), "aspect.which": ("完整名单", "full list"),
    "aspect.what": ("具体内容", "details"), "aspect.why": ("原因或作用", "purpose"),
    "aspect.join": ("报名或参与方式", "sign-up details"),
    "aspect.contact": ("联系方式（电话、网址、地址、邮箱）",
                       "contact details (phone, website, address, e-mail)"),
    "aspect.price": ("费用或门票价格", "price or ticket cost"),
    "aspect.eligibility": ("参与条件", "eligibility conditions"), "aspect.age": ("年龄", "age"),
    "aspect.founded": ("成立时间", "founding year"), "aspect.hometown": ("籍贯", "home town"),
    "aspect.full_list": ("完整名单", "full list"), "aspect.duration": ("持续时间", "duration"),
    "aspect.ranking": ("获奖等次、名次或评选结果", "prize ranks, placings or results"),
    "aspect.career": ("此前工作经历", "earlier career"),
    "aspect.business": ("主营业务、产品或所属集团", "line of business, products or parent group"),
    "aspect.in_force": ("正式实施或生效日期", "date it takes effect"),
    "aspect.area": ("占地或建筑面积", "area"),
    "aspect.amount": ("金额", "sum of money"),
    "aspect.affiliation": ("所在单位", "employer or organisation"),
    "aspect.ordinal": ("排序（第几）", "place in order"),
    "aspect.frequency": ("举办频率（多久一次）", "how often it happens"),
    "aspect.said": ("讲话或分享的具体内容", "what was said or shared"),
}


class _Keep(dict[str, Any]):
    """Values for :meth:`str.format_map` that leave a placeholder not given as it is (the
    engine fills ``{subject}`` of a template after the catalogue gives it)."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def script(zh: str, lang: str) -> str:
    """Simplified Chinese as the asker reads it: traditional characters for ``zh-hant``."""
    return to_traditional(zh) if lang == "zh-hant" else zh


def say(key: str, lang: str, overrides: Mapping[str, Override] | None = None,
        channel: str | None = None, **values: Any) -> str:
    """The message ``key`` in ``lang`` (``zh``, ``zh-hant`` or ``en``), its placeholders
    filled from ``values``. ``overrides`` (staff's ``smalltalk.yaml`` messages) win over the
    table; ``channel`` picks a channel's own variant (``key.channel``) where there is one."""
    if channel and f"{key}.{channel}" in MESSAGES:
        key = f"{key}.{channel}"
    custom = overrides.get(key) if overrides else None
    zh, en = (custom.zh, custom.en) if custom is not None else MESSAGES[key]
    text = (en or zh) if lang == "en" else zh
    if values:
        text = text.format_map(_Keep(values))
    return text if lang == "en" and en else script(text, lang)


__all__ = ["MESSAGES", "Override", "Text", "say", "script"]
