package intents

// builtinSynonyms are groups of everyday words that customers use for the
// same thing in any shop or service; the first word of a group is the form
// the matcher uses. They are general language, not one shop's vocabulary
// (that is the FAQ's own `synonyms`, which extend and override these).
var builtinSynonyms = [][]string{
	{"怎么", "如何", "怎样", "咋", "怎么样", "怎么办", "咋办", "怎么弄", "咋弄", "怎么搞", "怎么操作", "how"},
	{"何时", "什么时候", "啥时候", "多久", "多长时间", "几时", "多会儿", "when"},
	{"为什么", "为何", "为啥", "怎么会", "咋会", "干嘛", "why"},
	{"什么", "啥", "what"},
	{"可以", "能", "能否", "可否", "能不能", "可不可以", "行不行", "是否可以", "能够", "可以吗"},
	{"无法", "不能", "不了", "不可以", "没法", "没办法", "不行", "cannot"},
	{"没有", "没", "无", "未", "not", "didn", "doesn", "don", "haven", "hasn", "isn", "wasn", "aren", "won", "hasnt", "didnt", "doesnt", "dont", "havent", "isnt", "wasnt"},
	{"更换", "换", "修改", "改", "变更", "更改", "换成", "改成", "调换", "change"},
	{"手机号", "手机号码", "电话号码", "号码", "电话", "预留号", "手机号码"},
	{"取消", "撤销", "撤回", "不要了", "cancel"},
	{"钱", "款", "款项", "金额", "money"},
	{"退款", "退钱", "退回钱", "refund"},
	{"查询", "查", "查看", "看看", "看一下", "查一下", "check"},
	{"开通", "开启", "激活"},
	{"注销", "销户", "关闭账户", "关闭帐户"},
	{"申请", "办理"},
	{"提高", "增加", "提升", "调高", "上调"},
	{"降低", "减少", "调低", "下降", "下调", "减"},
	{"失败", "不成功", "没成功", "failed", "fail", "declined", "decline"},
	{"成功", "succeed", "success", "successful"},
	{"坏", "坏了", "broken", "faulty", "defective"},
	{"慢", "late", "delay", "delayed", "slow"},
	{"提示", "显示", "弹出"},
	{"费用", "价格", "价钱", "多少钱", "费"},
	{"谢谢", "多谢", "感谢", "谢了", "thanks", "thank", "thx"},
	{"你好", "您好", "哈喽", "hello", "hi", "嗨"},
	{"在吗", "在么", "在不在", "有人吗", "在马"},
	{"收到", "收着", "拿到", "received", "receive", "got", "gotten"},
	{"东西", "货", "商品", "货物", "宝贝", "item", "goods"},
	{"账号", "账户", "帐号", "帐户", "account"},
	{"登录", "登陆", "登入", "login"},
	{"密码", "password"},
	{"订单", "单子", "order"},
	{"银行卡", "卡", "储蓄卡", "card"},
}
