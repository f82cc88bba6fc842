package kefu_depcheck

import (
	_ "github.com/alicebob/miniredis/v2"
	_ "github.com/chromedp/chromedp"
	_ "github.com/coder/websocket"
	_ "github.com/coder/websocket/wsjson"
	_ "github.com/go-telegram/bot"
	_ "github.com/go-telegram/bot/models"
	_ "github.com/labstack/echo/v4"
	_ "github.com/labstack/echo/v4/middleware"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/prometheus/client_golang/prometheus/testutil"
	_ "github.com/silenceper/wechat/v2/officialaccount"
	_ "github.com/silenceper/wechat/v2/officialaccount/config"
	_ "github.com/silenceper/wechat/v2/officialaccount/message"
	_ "github.com/silenceper/wechat/v2/officialaccount/server"
	_ "github.com/silenceper/wechat/v2/cache"
	_ "github.com/silenceper/wechat/v2/util"
	_ "golang.org/x/crypto/bcrypt"
	_ "golang.org/x/time/rate"
)
