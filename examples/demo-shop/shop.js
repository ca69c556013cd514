// The demo shop's own logic: a catalogue, a cart kept in localStorage and a
// pretend login. Nothing here is needed by the tracker; the convead(...)
// calls are in the pages, where a real shop would put them.
var demo = (function () {
  var products = [
    { id: '101', name: 'Linen shirt', price: 49.9, category: 'shirts' },
    { id: '102', name: 'Denim jacket', price: 89, category: 'jackets' },
    { id: '103', name: 'Wool scarf', price: 24.5, category: 'accessories' },
    { id: '104', name: 'Canvas sneakers', price: 65, category: 'shoes' }
  ];

  function read(key, fallback) {
    try { return JSON.parse(localStorage.getItem(key)) || fallback; } catch (e) { return fallback; }
  }
  function write(key, value) { localStorage.setItem(key, JSON.stringify(value)); }

  function product(id) {
    return products.filter(function (p) { return p.id === String(id); })[0];
  }
  function productUrl(p) { return new URL('product.html?id=' + p.id, location.href).href; }

  // Cart lines in the shape update_cart and purchase send.
  function cart() { return read('demo_cart', []); }
  function setCart(items) { write('demo_cart', items); }
  function cartTotal() {
    return cart().reduce(function (sum, i) { return sum + i.qnt * i.price; }, 0);
  }

  function addToCart(p, qnt) {
    var items = cart(), line = items.filter(function (i) { return i.product_id === p.id; })[0];
    if (line) line.qnt += qnt;
    else items.push({ product_id: p.id, qnt: qnt, price: p.price, product_name: p.name, product_url: productUrl(p) });
    setCart(items);
  }

  function removeFromCart(id) {
    setCart(cart().filter(function (i) { return i.product_id !== id; }));
  }

  // The logged-in customer, if any: { uid, info }.
  function user() { return read('demo_user', null); }
  function login(uid, info) { write('demo_user', { uid: uid, info: info || {} }); }
  function logout() { localStorage.removeItem('demo_user'); }

  function money(x) { return '$' + Number(x).toFixed(2); }

  function param(name) { return new URLSearchParams(location.search).get(name); }

  // Shows the login state and cart size in the header of every page.
  document.addEventListener('DOMContentLoaded', function () {
    var status = document.getElementById('status');
    if (!status) return;
    var u = user(), n = cart().reduce(function (sum, i) { return sum + i.qnt; }, 0);
    status.textContent = (u ? 'Logged in as ' + u.uid : 'Guest') + ' \u00b7 cart: ' + n;
  });

  return {
    products: products, product: product, productUrl: productUrl,
    cart: cart, setCart: setCart, cartTotal: cartTotal, addToCart: addToCart,
    removeFromCart: removeFromCart, user: user, login: login, logout: logout,
    money: money, param: param
  };
})();
