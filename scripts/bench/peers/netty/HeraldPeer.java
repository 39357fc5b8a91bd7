/*
 * Benchmark peer 3: a Netty 4 WebSocket push server (one JVM of several).
 *
 * Holds idle WebSocket connections on path /ws, subscribes to the Redis channel
 * herald:broadcast and writes every message to every client as one pre-built
 * frame through a ChannelGroup: text if the bytes are valid UTF-8, else binary.
 *
 * Several JVMs share one port with SO_REUSEPORT. Debian's libnetty-java ships
 * the epoll transport's classes but not its native library, so this uses the
 * NIO transport and sets the JDK's own StandardSocketOptions.SO_REUSEPORT
 * (supported on Linux since Java 9) through NioChannelOption.
 *
 * Started by netty-server.ts, which compiles it with build.sh. Arguments:
 *   --host 127.0.0.1 --port 9001 --redis-host 127.0.0.1 --redis-port 6379 --threads 1
 * Prints READY on stdout once it listens and Redis has confirmed the
 * subscription; exits when stdin closes (its launcher is gone).
 */
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.ChannelMatchers;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioChannelOption;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.handler.codec.redis.ArrayRedisMessage;
import io.netty.handler.codec.redis.FullBulkStringRedisMessage;
import io.netty.handler.codec.redis.RedisArrayAggregator;
import io.netty.handler.codec.redis.RedisBulkStringAggregator;
import io.netty.handler.codec.redis.RedisDecoder;
import io.netty.handler.codec.redis.RedisEncoder;
import io.netty.handler.codec.redis.RedisMessage;
import io.netty.util.CharsetUtil;
import io.netty.util.concurrent.GlobalEventExecutor;

import java.net.StandardSocketOptions;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

public final class HeraldPeer {
    static final String CHANNEL = "herald:broadcast";

    public static void main(String[] argv) {
        try {
            run(argv);
        } catch (Throwable t) {
            // Without this a failed bind would leave the (non-daemon) event loop
            // threads running: the JVM would neither serve nor exit.
            System.err.println("[netty] fatal: " + t);
            System.exit(1);
        }
    }

    static void run(String[] argv) throws Exception {
        Map<String, String> args = parseArgs(argv);
        String host = args.getOrDefault("host", "127.0.0.1");
        int port = Integer.parseInt(args.getOrDefault("port", "9001"));
        String redisHost = args.getOrDefault("redis-host", "127.0.0.1");
        int redisPort = Integer.parseInt(args.getOrDefault("redis-port", "6379"));
        int threads = Integer.parseInt(args.getOrDefault("threads", "1"));

        // The launcher holds our stdin open; EOF means it is gone, and so should we be.
        Thread watchdog = new Thread(() -> {
            try {
                while (System.in.read() != -1) { /* discard */ }
            } catch (Exception ignored) { }
            System.exit(0);
        }, "parent-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();

        EventLoopGroup boss = new NioEventLoopGroup(1);
        EventLoopGroup workers = new NioEventLoopGroup(threads);
        // Closed channels remove themselves from the group.
        ChannelGroup clients = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);

        ServerBootstrap server = new ServerBootstrap()
                .group(boss, workers)
                .channel(NioServerSocketChannel.class)
                .option(NioChannelOption.of(StandardSocketOptions.SO_REUSEPORT), true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        // After the handshake, Netty swaps the HTTP codec and aggregator
                        // for the WebSocket frame decoder/encoder; they cost nothing idle.
                        ch.pipeline().addLast(
                                new HttpServerCodec(),
                                new HttpObjectAggregator(8192),
                                // path, no subprotocols, no extensions (no deflate),
                                // 64 KB max frame, strict masking, match "/ws?query" too.
                                new WebSocketServerProtocolHandler("/ws", null, false, 65536, false, true),
                                new ClientHandler(clients));
                    }
                });
        server.bind(host, port).sync();

        // The Redis subscriber runs on the same event loop as (with --threads 1, all)
        // the clients, so the broadcast writes go straight to the sockets instead of
        // being queued as one cross-thread task per channel.
        Bootstrap redis = new Bootstrap()
                .group(workers)
                .channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(
                                new RedisDecoder(),
                                new RedisBulkStringAggregator(),
                                new RedisArrayAggregator(),
                                new RedisEncoder(),
                                new Subscriber(clients));
                    }
                });
        connectRedis(redis, redisHost, redisPort);
    }

    /** Connects (and on loss, reconnects after a second), like ioredis does for the Node peers. */
    static void connectRedis(Bootstrap redis, String host, int port) {
        redis.connect(host, port).addListener((ChannelFutureListener) f -> {
            Runnable retry = () -> connectRedis(redis, host, port);
            if (!f.isSuccess()) {
                System.err.println("[netty] redis connect failed: " + f.cause());
                f.channel().eventLoop().schedule(retry, 1, TimeUnit.SECONDS);
                return;
            }
            f.channel().closeFuture().addListener(c -> {
                System.err.println("[netty] redis connection lost, reconnecting");
                f.channel().eventLoop().schedule(retry, 1, TimeUnit.SECONDS);
            });
        });
    }

    /** Adds each client to the group once its WebSocket handshake is done; ignores what it sends. */
    static final class ClientHandler extends SimpleChannelInboundHandler<Object> {
        private final ChannelGroup clients;

        ClientHandler(ChannelGroup clients) {
            this.clients = clients;
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof WebSocketServerProtocolHandler.HandshakeComplete) {
                clients.add(ctx.channel());
            }
            super.userEventTriggered(ctx, evt);
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof FullHttpRequest) { // a plain HTTP request to another path
                ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NOT_FOUND))
                        .addListener(ChannelFutureListener.CLOSE);
            }
            // Data frames from clients are dropped (released by SimpleChannelInboundHandler);
            // ping/pong/close are answered by WebSocketServerProtocolHandler.
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** A minimal SUBSCRIBE client on Netty's RESP codec (shipped in the same Debian package). */
    static final class Subscriber extends SimpleChannelInboundHandler<RedisMessage> {
        private static boolean announced = false;
        private final ChannelGroup clients;

        Subscriber(ChannelGroup clients) {
            this.clients = clients;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.writeAndFlush(new ArrayRedisMessage(List.of(bulk("SUBSCRIBE"), bulk(CHANNEL))));
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, RedisMessage msg) {
            if (!(msg instanceof ArrayRedisMessage)) return;
            List<RedisMessage> parts = ((ArrayRedisMessage) msg).children();
            if (parts.size() < 3 || !(parts.get(0) instanceof FullBulkStringRedisMessage)) return;
            String kind = ((FullBulkStringRedisMessage) parts.get(0)).content().toString(CharsetUtil.US_ASCII);
            if (kind.equals("subscribe") && !announced) {
                announced = true;
                System.out.println("READY");
                System.out.flush();
            } else if (kind.equals("message")) {
                broadcast(((FullBulkStringRedisMessage) parts.get(2)).content());
            }
        }

        /**
         * One frame for everybody: the group writes a retained duplicate of it to
         * each channel (sharing the payload bytes) and we ask for void promises so
         * no per-channel future is allocated and tracked.
         */
        private void broadcast(ByteBuf payload) {
            ByteBuf data = payload.retainedDuplicate();
            WebSocketFrame frame = ByteBufUtil.isText(data, CharsetUtil.UTF_8)
                    ? new TextWebSocketFrame(data)
                    : new BinaryWebSocketFrame(data);
            clients.writeAndFlush(frame, ChannelMatchers.all(), true); // releases frame when done
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            System.err.println("[netty] redis: " + cause);
            ctx.close();
        }

        private static FullBulkStringRedisMessage bulk(String s) {
            return new FullBulkStringRedisMessage(Unpooled.copiedBuffer(s, CharsetUtil.UTF_8));
        }
    }

    static Map<String, String> parseArgs(String[] argv) {
        Map<String, String> out = new HashMap<>();
        for (int i = 0; i + 1 < argv.length; i += 2) {
            if (!argv[i].startsWith("--")) throw new IllegalArgumentException("unexpected argument: " + argv[i]);
            out.put(argv[i].substring(2), argv[i + 1]);
        }
        return out;
    }
}
