// Package dingtalk runs ferry from DingTalk (钉钉): commands said to the
// robot of an enterprise-internal app (企业内部应用机器人), in a group where
// it is @-mentioned or in a 1:1 chat; one interactive card (互动卡片) per
// deploy, updated in place, whose buttons act as the person who presses
// them; the requester's 1:1 message when a deploy ends; digests; and custom
// group robots (自定义机器人) as notification-only destinations. The Stream
// connection is DingTalk's own SDK (github.com/open-dingtalk/
// dingtalk-stream-sdk-go); the OpenAPI is called over net/http.
//
// # Receiving
//
// In stream mode (the default) ferry opens the connection itself, so it
// needs no public address: it subscribes to robot messages
// (/v1.0/im/bot/messages/get) and card callbacks
// (/v1.0/card/instances/callback). The SDK answers DingTalk's pings and
// opens a new connection when DingTalk says disconnect or the connection
// dies. Each frame is stored in the inbox (bot.Inbox) before it is
// acknowledged, by its msgId (a card callback by the frame's messageId), so
// a redelivery is acknowledged and ignored and a restart loses nothing.
//
// In HTTP mode DingTalk POSTs to /chat/dingtalk. A request is refused (401)
// before its body is read unless its timestamp header (ms) is within an hour
// of now and its sign header is Base64(HMAC-SHA256(key = app secret, msg =
// timestamp + "\n" + app secret)), compared in constant time. That signature
// covers no body: a captured request's headers can carry another body for an
// hour. ferry refuses a msgId it has seen and a body it has seen, so a
// replayed request does nothing twice; a forged body under captured headers
// is what it cannot tell, so keep the route behind TLS, or use stream mode.
//
// The text after the @-mention is the command, in the one grammar. Answers
// go to the message's sessionWebhook while it has not expired
// (sessionWebhookExpiredTime), otherwise through the OpenAPI (the group's
// robot messages, or the person's 1:1 chat); in a group an answer @-mentions
// who asked. A link address goes to the person's 1:1 chat only.
//
// # Identity
//
// A DingTalk user acts as the ferry user whose chat.dingtalk in ferry.yaml is
// their enterprise userId (a robot message's senderStaffId), or who linked it
// with "link" (bot.Accounts). Anyone else is told how to link.
//
// # Cards
//
// The Adapter is the outbox's DingTalk sink (Subscriber, Sinks). With a card
// template (cards/deploy.json, imported in DingTalk's card builder), a
// deploy's card is created once in its project's group (createAndDeliver,
// outTrackId "ferry-<deploy>-<created>") and updated in place (PUT
// /v1.0/card/instances) at every change; notices that wait fold into one
// update. A button press comes back as a card callback and runs the command
// the deploy's card offers for it now, with the rights of who pressed it; a
// refusal is shown to that person alone (the card's private data) and the
// card does not change. Without a template, a card is an ActionCard message
// whose buttons open the deploy's page on the web console, posted when the
// deploy's state changes (messages cannot be edited). Approvers are
// @-mentioned while a deploy awaits approval; the requester gets a 1:1
// message when it ends.
//
// # Custom robots
//
// A custom robot's webhook is signed (加签: &timestamp=…&sign=…, URL-encoded)
// and takes at most 20 messages a minute, after which DingTalk holds it for
// 10 minutes. Each robot is its own outbox platform (RobotPlatform): ferry
// counts what it sent and waits in the outbox before the 21st, and a rate
// limit DingTalk answers anyway holds that robot's notices alone. Robots get
// the cards of the deploys in their scope, as messages with links, each
// state once, and digests.
//
// # Digests
//
// Digests go to dingtalk:<openConversationId> through the app and to
// dingtalk-robot:<name> through a robot, as markdown with the chart by its
// signed address (Digests), queued in the outbox.
package dingtalk
