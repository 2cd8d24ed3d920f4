// Conversations and their history: create, list (cursor pages, most recently updated first), read,
// rename, delete, and the messages of one conversation (cursor pages, oldest first). Ownership is
// checked by the stores: another user's conversation is not found, on every route. Writes return the
// read-your-writes token; reads honour it.
#include <memory>
#include <vector>

#include "prod/api/api_json.h"
#include "prod/api/api_routes.h"
#include "prod/api/exchange.h"
#include "prod/api/generation_hub.h"
#include "prod/api/json_body.h"

namespace chatscale::api {
namespace {

constexpr int kRecentForStop = 20;  // answers being generated are among a conversation's newest

class ConversationsApi {
 public:
  explicit ConversationsApi(ApiContext& ctx) : ctx_(ctx) {}

  void create(http::HttpRequest& request, http::ResponseWriter& writer) {
    Exchange ex(ctx_, request, writer);
    if (!ex.authenticate()) return;
    std::string title;
    if (request.body.find_first_not_of(" \t\r\n") != std::string::npos) {  // the body is optional
      auto body = ex.json_body();
      if (!body) return;
      FieldReader fields(*body);
      fields.text("title", title, TextRule{false, 0, ctx_.options.max_title_bytes});
      if (Status status = fields.finish(); !status.is_ok()) return ex.error(status);
    }
    auto written = ctx_.stores.conversations.create_conversation(ex.principal().user_id, title, ctx_.clock.now());
    if (!written.is_ok()) return ex.error(written.status());
    ex.add_read_token(written->lsn);
    ex.json(201, conversation_json(written->value));
  }

  void list(http::HttpRequest& request, http::ResponseWriter& writer) {
    Exchange ex(ctx_, request, writer);
    if (!ex.authenticate()) return;
    auto read = ex.read_options();
    if (!read.is_ok()) return ex.error(read.status());
    auto page = ex.page();
    if (!page) return;
    auto found = ctx_.stores.conversations.list_conversations(ex.principal().user_id, *page, *read);
    if (!found.is_ok()) return ex.error(found.status());
    nlohmann::json data = nlohmann::json::array();
    for (const auto& c : found->items) data.push_back(conversation_json(c));
    ex.json(200, page_json(std::move(data), found->next_cursor));
  }

  void get(http::HttpRequest& request, http::ResponseWriter& writer) {
    Exchange ex(ctx_, request, writer);
    if (!ex.authenticate()) return;
    auto read = ex.read_options();
    if (!read.is_ok()) return ex.error(read.status());
    auto found = ctx_.stores.conversations.get_conversation(ex.principal().user_id, request.param("id"), *read);
    if (!found.is_ok()) return ex.error(found.status());
    ex.json(200, conversation_json(*found));
  }

  void rename(http::HttpRequest& request, http::ResponseWriter& writer) {
    Exchange ex(ctx_, request, writer);
    if (!ex.authenticate()) return;
    auto body = ex.json_body();
    if (!body) return;
    std::string title;
    FieldReader fields(*body);
    fields.text("title", title, TextRule{true, 0, ctx_.options.max_title_bytes});
    if (Status status = fields.finish(); !status.is_ok()) return ex.error(status);
    auto written = ctx_.stores.conversations.rename_conversation(ex.principal().user_id, request.param("id"), title,
                                                                 ctx_.clock.now());
    if (!written.is_ok()) return ex.error(written.status());
    ex.add_read_token(written->lsn);
    ex.json(200, conversation_json(written->value));
  }

  void remove(http::HttpRequest& request, http::ResponseWriter& writer) {
    Exchange ex(ctx_, request, writer);
    if (!ex.authenticate()) return;
    // Answers being generated end first, as cancelled (stored, then deleted with the rest), rather
    // than failing their final write against a deleted row (which would count them as lost).
    const double deadline = ctx_.clock.now() + ctx_.options.stop_wait_s;
    for (const auto& generation : ctx_.hub.cancel_conversation(ex.principal().user_id, request.param("id")))
      generation->wait_finished(deadline);
    stop_elsewhere(ex.principal().user_id, request.param("id"), deadline);
    auto lsn = ctx_.stores.conversations.delete_conversation(ex.principal().user_id, request.param("id"));
    if (!lsn.is_ok()) return ex.error(lsn.status());
    ex.add_read_token(*lsn);
    ex.no_content();
  }

  void messages(http::HttpRequest& request, http::ResponseWriter& writer) {
    Exchange ex(ctx_, request, writer);
    if (!ex.authenticate()) return;
    auto read = ex.read_options();
    if (!read.is_ok()) return ex.error(read.status());
    auto page = ex.page();
    if (!page) return;
    auto found = ctx_.stores.messages.list_messages(ex.principal().user_id, request.param("id"), *page, *read);
    if (!found.is_ok()) return ex.error(found.status());
    nlohmann::json data = nlohmann::json::array();
    for (const auto& m : found->items) data.push_back(message_json(m));
    ex.json(200, page_json(std::move(data), found->next_cursor));
  }

 private:
  // Answers of the conversation still 'streaming' after this hub's ended were being generated by
  // another instance: stop requests go to it through the store, and the delete waits (until
  // `deadline`) for them to end, so that they too end as cancelled rather than lost.
  void stop_elsewhere(const std::string& owner, const std::string& conversation_id, double deadline) {
    const ReadOptions primary{0, 0, true};
    auto recent = ctx_.stores.messages.recent_messages(owner, conversation_id, kRecentForStop, primary);
    if (!recent.is_ok()) return;  // the delete itself reports what is wrong
    std::vector<std::string> streaming;  // answer ids
    for (std::size_t i = 1; i < recent->size(); ++i) {
      const Message& user = (*recent)[i - 1];
      const Message& answer = (*recent)[i];
      if (answer.role != Role::kAssistant || answer.status != MessageStatus::kStreaming || user.role != Role::kUser)
        continue;
      if (ctx_.stores.messages.request_stop(owner, conversation_id, user.id, ctx_.clock.now()).is_ok())
        streaming.push_back(answer.id);
    }
    while (!streaming.empty() && ctx_.clock.now() < deadline) {
      ctx_.clock.sleep_for(ctx_.options.remote_poll_s);
      std::erase_if(streaming, [&](const std::string& id) {
        auto m = ctx_.stores.messages.get_message(owner, conversation_id, id, primary);
        return !m.is_ok() || m->status != MessageStatus::kStreaming;
      });
    }
  }

  static nlohmann::json page_json(nlohmann::json data, const std::string& next_cursor) {
    nlohmann::json body = {{"data", std::move(data)}};
    body["next_cursor"] = next_cursor.empty() ? nlohmann::json(nullptr) : nlohmann::json(next_cursor);
    return body;
  }

  ApiContext& ctx_;
};

}  // namespace

Routes conversation_routes(ApiContext& ctx) {
  auto api = std::make_shared<ConversationsApi>(ctx);
  auto bind = [api](void (ConversationsApi::*method)(http::HttpRequest&, http::ResponseWriter&)) {
    return [api, method](http::HttpRequest& request, http::ResponseWriter& writer) { ((*api).*method)(request, writer); };
  };
  return {
      {"POST", "/conversations", bind(&ConversationsApi::create)},
      {"GET", "/conversations", bind(&ConversationsApi::list)},
      {"GET", "/conversations/{id}", bind(&ConversationsApi::get)},
      {"PATCH", "/conversations/{id}", bind(&ConversationsApi::rename)},
      {"DELETE", "/conversations/{id}", bind(&ConversationsApi::remove)},
      {"GET", "/conversations/{id}/messages", bind(&ConversationsApi::messages)},
  };
}

}  // namespace chatscale::api
